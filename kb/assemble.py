"""Turn parsed sources + repeat units into the KB's tables (pure pandas, no I/O)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd

from kb.errors import PolyBenchError
from kb.ingest import to_measurements
from kb.ingest_dedup import duplicate_of
from kb.manifest import SourceFile
from kb.monomers import link_table, monomer_table
from kb.readers import Rejection, SourceRows


def polymer_id_of(key: str) -> int:
    """A stable 48-bit id of a canonical repeat unit (the same key gets the same id in every build)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=6).digest(), "big")


@dataclass
class Tables:
    """Everything the DuckDB file holds except features, fingerprints and splits."""

    sources: list[dict] = field(default_factory=list)
    polymer_rows: list[pd.DataFrame] = field(default_factory=list)   # key, name, source_id per ingested row
    measurements: list[pd.DataFrame] = field(default_factory=list)
    names: list[pd.DataFrame] = field(default_factory=list)
    links: list[pd.DataFrame] = field(default_factory=list)
    quarantine: list[pd.DataFrame] = field(default_factory=list)
    monomers: pd.DataFrame | None = None


def _quarantine_frame(source_id: str, rejections: list[Rejection]) -> pd.DataFrame:
    return pd.DataFrame({
        "source_id": source_id, "row_index": [r.row_index for r in rejections],
        "scope": [r.scope for r in rejections], "field": [r.field for r in rejections],
        "raw_text": [r.raw_text for r in rejections], "reason": [r.reason for r in rejections],
    })


def add_source(tables: Tables, src: SourceFile, md5: str, parsed: SourceRows, units: pd.DataFrame) -> dict:
    """Ingest one parsed source; `units` (indexed by the raw string) gives key/status/reason."""
    rejections = list(parsed.rejections)
    rows = parsed.rows
    ingested_rows = 0
    if src.reader == "smipoly_monomers":
        tables.monomers, monomer_rejections = monomer_table(rows)
        rejections += monomer_rejections
        ingested_rows = len(tables.monomers)
    elif len(rows):
        found = units.reindex(rows["smiles"].to_numpy())
        resolved = pd.concat([rows.reset_index(drop=True), found.reset_index(drop=True)], axis=1)
        bad = resolved["key"].isna().to_numpy()
        rejections += [Rejection(int(r.row_index), "row", src.smiles or "polym", r.raw_smiles, r.reason)
                       for r in resolved[bad].itertuples()]
        good = resolved[~bad]
        ids = good["key"].map(polymer_id_of)
        ingested_rows = len(good)
        tables.polymer_rows.append(pd.DataFrame({"polymer_id": ids.to_numpy(), "key": good["key"].to_numpy(),
                                                 "status": good["status"].to_numpy(),
                                                 "n_attachments": good["n_attachments"].to_numpy()}))
        named = good[good["name"].notna() & (good["name"].fillna("") != "")]
        if len(named):
            tables.names.append(pd.DataFrame({"polymer_id": named["key"].map(polymer_id_of).to_numpy(),
                                              "name": named["name"].to_numpy(), "source_id": src.source_id}))
        if src.reader == "smipoly_polymers":
            if tables.monomers is None:
                raise PolyBenchError("the SMiPoly monomer set must be ingested before the generated polymers")
            tables.links.append(link_table(good, ids.reset_index(drop=True).set_axis(good.index), tables.monomers,
                                           src.source_id))
        values = parsed.values[parsed.values["row_index"].isin(good["row_index"])]
        measurements, value_rejections = to_measurements(values)
        rejections += value_rejections
        if len(measurements):
            by_row = dict(zip(good["row_index"], ids))
            reference = dict(zip(good["row_index"], good["reference"]))
            measurements.insert(0, "polymer_id", measurements["row_index"].map(by_row).astype("int64"))
            measurements["source_id"] = src.source_id
            measurements["reference"] = measurements["row_index"].map(reference)
            measurements["licence"] = src.licence
            tables.measurements.append(measurements)
    row_rejections = sum(r.scope == "row" for r in rejections)
    if ingested_rows + row_rejections != parsed.rows_read:
        raise PolyBenchError(f"{src.source_id}: accounting broke: {parsed.rows_read} read, {ingested_rows} "
                             f"ingested, {row_rejections} quarantined")
    if rejections:
        tables.quarantine.append(_quarantine_frame(src.source_id, rejections))
    report = {
        "source_id": src.source_id, "dataset": src.dataset, "file": src.file, "url": src.url, "repo": src.repo,
        "path": src.path, "commit_sha": src.commit, "md5": md5, "licence": src.licence, "kind": src.kind,
        "description": src.description, "rows_read": parsed.rows_read, "rows_ingested": ingested_rows,
        "rows_quarantined": row_rejections, "values_quarantined": len(rejections) - row_rejections,
    }
    tables.sources.append(report)
    return report


def polymers_frame(tables: Tables) -> pd.DataFrame:
    """One row per canonical repeat unit with its most common name and measurement count."""
    rows = pd.concat(tables.polymer_rows, ignore_index=True).drop_duplicates("key")
    clash = rows["polymer_id"].duplicated()
    if clash.any():
        raise PolyBenchError(f"polymer id collision for keys {rows[clash]['key'].tolist()[:3]}")
    names = pd.concat(tables.names, ignore_index=True) if tables.names else pd.DataFrame(
        columns=["polymer_id", "name", "source_id"])
    best = (names.assign(n=1).groupby(["polymer_id", "name"], as_index=False)["n"].sum()
            .assign(length=lambda f: f["name"].str.len())
            .sort_values(["polymer_id", "n", "length", "name"], ascending=[True, False, True, True])
            .drop_duplicates("polymer_id"))
    measured = measurements_frame(tables)
    counts = measured[measured["duplicate_of"].isna()].groupby("polymer_id").size()
    rows = rows.merge(best[["polymer_id", "name"]], on="polymer_id", how="left")
    rows["n_measurements"] = rows["polymer_id"].map(counts).fillna(0).astype("int64")
    return rows.sort_values("polymer_id", ignore_index=True)


def measurements_frame(tables: Tables) -> pd.DataFrame:
    if not tables.measurements:
        return pd.DataFrame(columns=["polymer_id"])
    frame = pd.concat(tables.measurements, ignore_index=True)
    frame.insert(0, "measurement_id", range(1, len(frame) + 1))
    frame["duplicate_of"] = duplicate_of(frame)  # the same value copied into another file counts once
    return frame
