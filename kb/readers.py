"""Readers turn one verified source file into rows (structures) and long-format raw values.

Every data record is accounted for: it becomes a row, or a rejection with its reason. Values stay raw
text here; parsing, unit conversion and range checks happen in kb.ingest so that they are done once.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kb.errors import ManifestError
from kb.manifest import SourceFile
from kb.properties import gas_of
from kb.units import convert

ROW_COLUMNS = ["row_index", "raw_smiles", "smiles", "name", "reference"]
VALUE_COLUMNS = ["row_index", "property", "raw_value", "unit", "kind", "temperature_k", "gas", "solvent", "conditions"]


@dataclass(frozen=True)
class Rejection:
    """A record (scope 'row') or one value of it (scope 'value') that was not ingested, and why."""

    row_index: int
    scope: str
    field: str | None
    raw_text: str
    reason: str


@dataclass
class SourceRows:
    """What a reader got out of one file."""

    rows_read: int
    rows: pd.DataFrame                                   # ROW_COLUMNS (+ reader-specific columns)
    values: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=VALUE_COLUMNS))
    rejections: list[Rejection] = field(default_factory=list)


def _records(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data records of a CSV (plain or gzip), blank lines skipped like pandas does.

    Text is UTF-8; a file that is not (one mirror file has stray Mac-encoded bytes in a name) is read
    as Latin-1 so that no record is lost; structures and numbers are ASCII either way.
    """
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # a corrupt or cut .gz (BadGzipFile is an OSError)
        raise ManifestError(f"{path} cannot be read: {exc or type(exc).__name__}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return header, [rec for rec in reader if rec]


def _table(path: Path, rejections: list[Rejection], required: list[str]) -> tuple[int, pd.DataFrame]:
    """All well-formed records as strings (index = row_index); malformed ones become rejections."""
    header, records = _records(path)
    missing = [c for c in required if c not in header]
    if missing:
        raise ManifestError(f"{path}: columns {missing} named in the manifest are not in the header {header}")
    good, index = [], []
    named = len(header)
    while named and not header[named - 1].strip():
        named -= 1  # trailing unnamed columns (a trailing comma in the header) may be absent in records
    for i, rec in enumerate(records):
        if named <= len(rec) < len(header):
            rec = rec + [""] * (len(header) - len(rec))
        if len(rec) != len(header):
            rejections.append(Rejection(i, "row", None, ",".join(rec)[:500],
                                        f"malformed CSV record: expected {len(header)} fields, found {len(rec)}"))
            continue
        good.append(rec)
        index.append(i)
    frame = pd.DataFrame(good, columns=header, index=pd.Index(index, name="row_index"), dtype="string")
    return len(records), frame


def _required(src: SourceFile) -> list[str]:
    """Every column the manifest maps for this file."""
    cols = [src.smiles, src.name, src.reference, *(v.column for v in src.values),
            *(c.column for c in src.conditions), src.kind_by.column if src.kind_by else None]
    return [c for c in cols if c]


def _missing(text: object) -> bool:
    return text is None or text is pd.NA or (isinstance(text, float) and math.isnan(text)) or \
        str(text).strip() in ("", "NA", "NaN", "nan", "None")


def _apply_placeholders(smiles: pd.Series, placeholders: dict[str, str]) -> pd.Series:
    for old, new in placeholders.items():
        smiles = smiles.str.replace(old, new, regex=False)
    return smiles


def _structure_rows(src: SourceFile, frame: pd.DataFrame, rejections: list[Rejection]) -> pd.DataFrame:
    """Rows with a non-empty structure; an empty structure cell is a row rejection."""
    raw = frame[src.smiles].fillna("").str.strip()
    empty = raw == ""
    for i in frame.index[empty.to_numpy()]:
        rejections.append(Rejection(int(i), "row", src.smiles, "", "empty structure (SMILES) cell"))
    several = raw.str.contains(",", regex=False)
    for i in frame.index[several.to_numpy()]:
        n = raw[i].count(",") + 1
        rejections.append(Rejection(int(i), "row", src.smiles, raw[i],
                                    f"{n} structures in one cell (a copolymer or blend, not one repeat unit)"))
    keep = frame[~(empty | several).to_numpy()]
    raw = raw[~(empty | several)]
    rows = pd.DataFrame({
        "row_index": keep.index.to_numpy(),
        "raw_smiles": raw.to_numpy(),
        "smiles": _apply_placeholders(raw, src.placeholders).to_numpy(),
        "name": keep[src.name].str.strip().to_numpy() if src.name else None,
        "reference": keep[src.reference].to_numpy() if src.reference else None,
    })
    return rows


def _conditions(src: SourceFile, frame: pd.DataFrame) -> pd.DataFrame:
    """Per-row temperature_k / gas / solvent columns and a JSON object of the other conditions."""
    out = pd.DataFrame(index=frame.index)
    out["temperature_k"], out["gas"], out["solvent"] = math.nan, None, None
    extra: dict[str, pd.Series] = {}
    for cond in src.conditions:
        col = frame[cond.column]
        if cond.field == "temperature_k":
            numbers = pd.to_numeric(col, errors="coerce").astype(float)
            if cond.unit in (None, "K"):
                out["temperature_k"] = numbers
            else:  # affine units (degC, degF): scale and offset from two conversions
                offset = convert(0.0, cond.unit, "K")
                out["temperature_k"] = numbers * (convert(1.0, cond.unit, "K") - offset) + offset
        elif cond.field in ("gas", "solvent"):
            out[cond.field] = col.where(~col.map(_missing), None)
        else:
            extra[cond.field] = col
    if extra:
        keys = list(extra)
        cols = [extra[k].to_numpy() for k in keys]
        out["conditions"] = [
            json.dumps({k: v for k, v in zip(keys, vals) if not _missing(v)}) or None for vals in zip(*cols)
        ]
        out.loc[out["conditions"] == "{}", "conditions"] = None
    else:
        out["conditions"] = None
    return out


def _row_kinds(src: SourceFile, frame: pd.DataFrame, rejections: list[Rejection]) -> pd.Series | None:
    """Per-row kind from `kind_by`, or None; an unmapped label is a row rejection."""
    if src.kind_by is None:
        return None
    labels = frame[src.kind_by.column].fillna("").str.strip()
    kinds = labels.map(src.kind_by.map)
    for i in frame.index[kinds.isna().to_numpy()]:
        rejections.append(Rejection(int(i), "row", src.kind_by.column, str(labels[i]),
                                    f"unknown kind label {labels[i]!r}; expected one of {sorted(src.kind_by.map)}"))
    return kinds


def _wide_values(src: SourceFile, frame: pd.DataFrame, kinds: pd.Series | None) -> pd.DataFrame:
    """Long-format raw values of every mapped column (empty cells are absent values, not rejections)."""
    if not src.values:
        return pd.DataFrame(columns=VALUE_COLUMNS)
    cond = _conditions(src, frame)
    parts = []
    for vc in src.values:
        raw = frame[vc.column]
        present = ~raw.map(_missing).to_numpy()
        part = cond[present].copy()
        part["row_index"] = part.index.to_numpy()
        part["property"] = vc.property
        part["raw_value"] = raw[present].str.strip().to_numpy()
        part["unit"] = vc.unit
        part["kind"] = kinds[present].to_numpy() if kinds is not None else vc.kind
        part["gas"] = gas_of(vc.property)
        parts.append(part[VALUE_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def read_table(src: SourceFile, path: Path) -> SourceRows:
    """A wide table: one structure column, zero or more value columns, conditions."""
    rejections: list[Rejection] = []
    n, frame = _table(path, rejections, _required(src))
    kinds = _row_kinds(src, frame, rejections)
    if kinds is not None:
        frame, kinds = frame[kinds.notna()], kinds[kinds.notna()]
    rows = _structure_rows(src, frame, rejections)
    frame = frame.loc[rows["row_index"].to_numpy()]
    values = _wide_values(src, frame, kinds.loc[frame.index] if kinds is not None else None)
    if src.rows_without_values:  # rows the manifest marks as untrustworthy unless they carry a value
        bare = ~rows["row_index"].isin(values["row_index"])
        rejections += [Rejection(int(r.row_index), "row", src.smiles, r.raw_smiles,
                                 f"row without a value: {src.rows_without_values}") for r in rows[bare].itertuples()]
        rows = rows[~bare].reset_index(drop=True)
    return SourceRows(n, rows, values, rejections)


_TRANSPORT = {"p": ("perm", "log10(cm3(STP) cm/(cm2 s cmHg))"), "d": ("diff", "log10(cm2/s)"),
              "s": ("sol", "log10(cm3(STP)/(cm3 cmHg))")}
_KIND = {"exp": "experimental", "sim": "md_simulated"}


def read_polyverse_transport(src: SourceFile, path: Path) -> SourceRows:
    """polyVERSE long transport table: `property` = {p,d,s}_{exp,sim}_{gas}, `value` = log10."""
    rejections: list[Rejection] = []
    n, frame = _table(path, rejections, [*_required(src), "property", "value"])
    parsed = frame["property"].str.extract(r"^([pds])_(exp|sim)_([A-Za-z0-9]+)$")
    bad = parsed[0].isna() | ~parsed[2].str.lower().isin(["he", "h2", "o2", "n2", "co2", "ch4", "h2o"])
    for i in frame.index[bad.to_numpy()]:
        rejections.append(Rejection(int(i), "row", "property", str(frame.at[i, "property"]),
                                    "unknown transport property label"))
    frame, parsed = frame[~bad.to_numpy()], parsed[~bad.to_numpy()]
    rows = _structure_rows(src, frame, rejections)
    frame, parsed = frame.loc[rows["row_index"].to_numpy()], parsed.loc[rows["row_index"].to_numpy()]
    cond = _conditions(src, frame)
    values = cond.copy()
    values["row_index"] = frame.index.to_numpy()
    values["property"] = (parsed[0].map(lambda q: _TRANSPORT[q][0]) + "_" + parsed[2].str.lower()).to_numpy()
    values["raw_value"] = frame["value"].str.strip().to_numpy()
    values["unit"] = parsed[0].map(lambda q: _TRANSPORT[q][1]).to_numpy()
    values["kind"] = parsed[1].map(_KIND).to_numpy()
    values["gas"] = values["property"].map(gas_of)
    values = values[~values["raw_value"].map(_missing)]
    return SourceRows(n, rows, values[VALUE_COLUMNS].reset_index(drop=True), rejections)


def read_smipoly_polymers(src: SourceFile, path: Path) -> SourceRows:
    """SMiPoly generated polymers: the structure is `polym`; monomers and class travel with the row."""
    rejections: list[Rejection] = []
    n, frame = _table(path, rejections, ["mon1", "mon2", "polym", "polymer_class"])
    rows = _structure_rows(src.model_copy(update={"smiles": "polym"}), frame, rejections)
    keep = frame.loc[rows["row_index"].to_numpy()]
    rows["mon1"] = keep["mon1"].fillna("").to_numpy()
    rows["mon2"] = keep["mon2"].fillna("").to_numpy()
    rows["polymer_class"] = keep["polymer_class"].fillna("").to_numpy()
    return SourceRows(n, rows, rejections=rejections)


def read_smipoly_monomers(src: SourceFile, path: Path) -> SourceRows:
    """SMiPoly starting monomers (CID, formula, MW, SMILES, IUPAC name); structures are monomers."""
    rejections: list[Rejection] = []
    n, frame = _table(path, rejections, ["comID", "MolecularFormula", "MolecularWeight", "SMILES", "IUPACName"])
    rows = _structure_rows(src.model_copy(update={"smiles": "SMILES", "name": "IUPACName"}), frame, rejections)
    keep = frame.loc[rows["row_index"].to_numpy()]
    rows["cid"] = keep["comID"].to_numpy()
    rows["formula"] = keep["MolecularFormula"].to_numpy()
    rows["mw"] = pd.to_numeric(keep["MolecularWeight"], errors="coerce").to_numpy()
    return SourceRows(n, rows, rejections=rejections)


def read_reference(src: SourceFile, path: Path) -> SourceRows:
    """Rule files: checked and listed as sources, no rows (tools.synthesis reads them)."""
    json.loads(Path(path).read_text())
    return SourceRows(0, pd.DataFrame(columns=ROW_COLUMNS))


READERS = {"table": read_table, "polyverse_transport": read_polyverse_transport,
           "smipoly_polymers": read_smipoly_polymers, "smipoly_monomers": read_smipoly_monomers,
           "reference": read_reference}


def read_source(src: SourceFile, path: Path) -> SourceRows:
    """Dispatch to the reader the manifest names."""
    return READERS[src.reader](src, path)
