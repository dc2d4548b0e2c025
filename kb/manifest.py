"""The source manifest (kb/manifest/sources.json): where each file comes from and how its columns map.

Files are read from a local mirror (`data_dir/<dataset>/<file>`) or downloaded from their pinned URL;
either way the md5 must match the manifest (a mismatch is a ChecksumError, never a warning).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import shutil
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from kb.errors import ChecksumError, ManifestError, UnitError, UnknownPropertyError
from kb.properties import get_property
from kb.units import convert

log = logging.getLogger(__name__)
MANIFEST_PATH = Path(__file__).parent / "manifest" / "sources.json"
Kind = Literal["experimental", "md_simulated", "dft", "synthetic"]
ConditionField = str  # temperature_k, solvent, gas, or a free name kept in the conditions JSON


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueColumn(_Strict):
    """A source column holding one property, in one unit, of one kind of data."""

    column: str
    property: str
    unit: str
    kind: Kind

    @model_validator(mode="after")
    def _known_property_and_unit(self) -> ValueColumn:
        try:
            convert(1.0, self.unit, get_property(self.property).unit)
        except (UnknownPropertyError, UnitError) as exc:  # pydantic reports ValueErrors with the field
            raise ValueError(str(exc)) from exc
        return self


class ConditionColumn(_Strict):
    """A source column that qualifies a measurement (temperature, solvent, dopant, ...)."""

    column: str
    field: ConditionField
    unit: str | None = None


class KindBy(_Strict):
    """Per-row kind of data, read from a column (e.g. 'expt' -> experimental)."""

    column: str
    map: dict[str, Kind]


class SourceFile(_Strict):
    """One mirrored file: provenance, licence, checksum and how to read it."""

    dataset: str
    file: str
    kind: Literal["experimental", "md_simulated", "dft", "synthetic", "mixed", "structures"]
    licence: str
    repo: str
    path: str
    commit: str
    url: str
    md5: str
    content_md5: str | None = None     # md5 of the decompressed content, for re-compressed mirror files
    transform: Literal["gunzip", "unzip"] | None = None  # how the upstream file becomes the mirror file
    reader: Literal["table", "polyverse_transport", "smipoly_monomers", "smipoly_polymers", "reference"]
    smiles: str | None = None
    name: str | None = None
    reference: str | None = None
    placeholders: dict[str, str] = {}
    values: list[ValueColumn] = []
    conditions: list[ConditionColumn] = []
    kind_by: KindBy | None = None
    ignored: dict[str, str] = {}
    rows_without_values: str | None = None  # quarantine rows that carry no mapped value, for this reason
    description: str = ""

    @property
    def source_id(self) -> str:
        return f"{self.dataset}/{self.file}"

    @model_validator(mode="after")
    def _table_needs_smiles(self) -> SourceFile:
        if self.reader in ("table", "polyverse_transport") and not self.smiles:
            raise ValueError(f"{self.dataset}/{self.file}: reader {self.reader!r} needs a smiles column")
        return self


class Manifest(_Strict):
    schema_version: int
    files: list[SourceFile]

    def select(self, source_ids: list[str] | None) -> list[SourceFile]:
        """The files named (all when None); an unknown name is a ManifestError."""
        if source_ids is None:
            return list(self.files)
        by_id = {f.source_id: f for f in self.files}
        unknown = [s for s in source_ids if s not in by_id]
        if unknown:
            raise ManifestError(f"unknown source ids {unknown}; known: {sorted(by_id)}")
        return [by_id[s] for s in source_ids]


def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    """Parse and validate the manifest; every problem is reported with its field."""
    try:
        return Manifest.model_validate(json.loads(Path(path).read_text()))
    except (ValidationError, json.JSONDecodeError) as exc:
        raise ManifestError(f"invalid manifest {path}: {exc}") from exc


def md5_of(path: Path) -> str:
    """md5 hex digest of a file, streamed."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _content_md5(path: Path) -> str:
    """md5 of a gzip file's decompressed content; ManifestError (one line) when it is not valid gzip."""
    digest = hashlib.md5()
    try:
        with gzip.open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError; a cut file ends early
        raise ManifestError(f"{path} is not a readable gzip file ({exc or type(exc).__name__}); "
                            "replace it with the mirror's copy or use --download") from None
    return digest.hexdigest()


def verify(source: SourceFile, path: Path) -> str:
    """Check a local file against the manifest; return the md5 that identifies its content."""
    if source.content_md5:
        actual = _content_md5(path)
        if actual != source.content_md5:
            raise ChecksumError(str(path), source.content_md5, actual)
        return actual
    actual = md5_of(path)
    if actual != source.md5:
        raise ChecksumError(str(path), source.md5, actual)
    return actual


def _download(source: SourceFile, target: Path) -> None:
    """Fetch the upstream file and apply the manifest's transform, writing `target` atomically."""
    log.info("downloading %s", source.url)
    with urllib.request.urlopen(source.url, timeout=60) as resp:
        payload = resp.read()
    if source.transform == "gunzip":
        payload = gzip.decompress(payload)
    elif source.transform == "unzip":
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            member = next(n for n in zf.namelist() if not n.startswith("__MACOSX") and not n.endswith("/"))
            payload = gzip.compress(zf.read(member), mtime=0)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(payload)
    tmp.replace(target)


def resolve(source: SourceFile, data_dir: Path, download_dir: Path | None = None) -> tuple[Path, str]:
    """The verified local path of a source file and its md5: the mirror copy, else a verified download."""
    local = Path(data_dir) / source.dataset / source.file
    if local.exists():
        return local, verify(source, local)
    if download_dir is None:
        raise ManifestError(f"{source.source_id} is not in the mirror {data_dir} and downloads are off")
    cached = Path(download_dir) / source.dataset / source.file
    if not cached.exists():
        _download(source, cached)
    try:
        return cached, verify(source, cached)
    except ChecksumError:
        bad = cached.with_suffix(cached.suffix + ".bad")
        shutil.move(cached, bad)
        raise
