import gzip
import json
import shutil

import pytest

from kb.errors import ChecksumError, ManifestError
from kb.manifest import MANIFEST_PATH, Manifest, SourceFile, load_manifest, md5_of, resolve


def _entry(manifest: Manifest, source_id: str) -> SourceFile:
    return next(f for f in manifest.files if f.source_id == source_id)


def test_every_mirror_file_is_listed_and_verifies(data_dir):
    manifest = load_manifest()
    listed = {f.source_id for f in manifest.files}
    on_disk = {str(p.relative_to(data_dir)) for p in data_dir.rglob("*")
               if p.is_file() and p.suffix in (".csv", ".gz", ".json")}
    assert on_disk <= listed, f"mirror files missing from the manifest: {sorted(on_disk - listed)}"
    for src in manifest.files:
        path, md5 = resolve(src, data_dir)
        assert path.exists() and len(md5) == 32
        assert src.url.startswith("https://") and src.commit in src.url and src.licence


def test_md5_check_fails_on_a_changed_file(data_dir, tmp_path):
    src = _entry(load_manifest(), "polymer_genome_mmpolymer/EPS.csv")
    copy = tmp_path / src.dataset / src.file
    copy.parent.mkdir(parents=True)
    shutil.copy(data_dir / src.dataset / src.file, copy)
    assert resolve(src, tmp_path)[1] == src.md5
    with open(copy, "a") as fh:
        fh.write("*CC(*)Cl,3.1\n")
    with pytest.raises(ChecksumError, match="md5 mismatch"):
        resolve(src, tmp_path)


def test_download_path_verifies_md5(data_dir, tmp_path):
    """A file missing from the mirror is downloaded from its URL (file:// here) and md5-checked."""
    src = _entry(load_manifest(), "polymer_genome_mmpolymer/Nc.csv")
    upstream = tmp_path / "upstream" / "Nc.csv"
    upstream.parent.mkdir()
    shutil.copy(data_dir / src.dataset / src.file, upstream)
    local = src.model_copy(update={"url": upstream.as_uri()})
    path, md5 = resolve(local, tmp_path / "empty_mirror", download_dir=tmp_path / "downloads")
    assert md5 == src.md5 and md5_of(path) == src.md5
    bad = src.model_copy(update={"url": upstream.as_uri(), "file": "Nc_bad.csv"})
    upstream.write_text("psmiles,value\n*CC*,1.5\n")
    with pytest.raises(ChecksumError):
        resolve(bad, tmp_path / "empty_mirror", download_dir=tmp_path / "downloads")


def test_download_applies_gunzip_transform(data_dir, tmp_path):
    src = _entry(load_manifest(), "opc_data_dev/prediction_data_dev.csv")
    upstream = tmp_path / "data_dev.csv.gz"
    upstream.write_bytes(gzip.compress((data_dir / src.dataset / src.file).read_bytes()))
    local = src.model_copy(update={"url": upstream.as_uri()})
    _, md5 = resolve(local, tmp_path / "none", download_dir=tmp_path / "dl")
    assert md5 == src.md5


def test_missing_file_without_download_is_a_clear_error(tmp_path):
    src = load_manifest().files[0]
    with pytest.raises(ManifestError, match="not in the mirror"):
        resolve(src, tmp_path)


def test_bad_manifest_is_refused(tmp_path):
    raw = json.loads(MANIFEST_PATH.read_text())
    raw["files"][0]["values"][0]["property"] = "glass_temp"
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(ManifestError, match="glass_temp"):
        load_manifest(bad)
    raw["files"][0]["surprise"] = 1
    bad.write_text(json.dumps(raw))
    with pytest.raises(ManifestError):
        load_manifest(bad)
    with pytest.raises(ManifestError, match="unknown source ids"):
        load_manifest().select(["nope/nope.csv"])
