"""The DuckDB schema of the knowledge base and small helpers to open it safely.

Tables (one row each):
  sources            a source file from the manifest, with its read / ingested / quarantined row counts
  properties         the property registry (name, canonical unit, description, plausible range)
  polymers           a canonical repeat unit (``key``), its status, split and best-known name
  polymer_names      a name a source gives a polymer
  measurements       one source row's value of one property, in canonical unit, with the original value
  features           RDKit features of a polymer's repeat unit (one column per feature)
  fingerprints       a polymer's Morgan fingerprint as packed bits (BLOB)
  monomers           a SMiPoly monomer with its PubChem CID and IUPAC name
  polymer_monomers   which monomers make which polymer, by which polymerization class, from which row
  quarantine         a rejected row (scope 'row') or value (scope 'value') with its reason
  build_info         key/value facts about the build (kb_version, complete flag, timings)
  property_summary   per polymer, property and kind: median, range, count, sources (derived table)
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from kb.errors import KBNotBuiltError

SCHEMA_VERSION = 1

DDL = """
CREATE TABLE IF NOT EXISTS sources (
    source_id VARCHAR PRIMARY KEY,      -- '<dataset>/<file>'
    dataset VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    url VARCHAR NOT NULL,
    repo VARCHAR, path VARCHAR, commit_sha VARCHAR,
    md5 VARCHAR NOT NULL,
    licence VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,              -- experimental / md_simulated / dft / synthetic / mixed / structures
    description VARCHAR,
    rows_read BIGINT NOT NULL,
    rows_ingested BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    values_quarantined BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS properties (
    name VARCHAR PRIMARY KEY,
    unit VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    min_value DOUBLE, max_value DOUBLE,
    higher_is VARCHAR                   -- free text hint for design tasks, may be NULL
);
CREATE TABLE IF NOT EXISTS polymers (
    polymer_id BIGINT PRIMARY KEY,
    key VARCHAR NOT NULL UNIQUE,        -- canonical repeat unit (PSMILES) or canonical SMILES for non-linear
    status VARCHAR NOT NULL,            -- linear / multi_attachment / no_attachment
    n_attachments INTEGER NOT NULL,
    name VARCHAR,
    split VARCHAR,                      -- train / dev / test
    cluster_id INTEGER,
    n_measurements INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS polymer_names (
    polymer_id BIGINT NOT NULL, name VARCHAR NOT NULL, source_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS measurements (
    measurement_id BIGINT PRIMARY KEY,
    polymer_id BIGINT NOT NULL,
    property VARCHAR NOT NULL,
    value DOUBLE NOT NULL,              -- in properties.unit
    unit VARCHAR NOT NULL,
    original_value VARCHAR NOT NULL,
    original_unit VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,              -- experimental / md_simulated / dft / synthetic
    source_id VARCHAR NOT NULL,
    row_index BIGINT NOT NULL,          -- 0-based data row in the source file
    temperature_k DOUBLE,
    gas VARCHAR,
    solvent VARCHAR,
    conditions VARCHAR,                 -- JSON object of any other condition (pressure, shear rate, dopant...)
    reference VARCHAR,
    licence VARCHAR NOT NULL,
    duplicate_of BIGINT                 -- the measurement this one copies (same value, another file): counted once
);
-- features (polymer_id BIGINT, then one column per kb.features.FEATURE_COLUMNS) is created at build time
CREATE TABLE IF NOT EXISTS fingerprints (
    polymer_id BIGINT PRIMARY KEY, morgan BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS monomers (
    monomer_id INTEGER PRIMARY KEY,
    cid VARCHAR, smiles VARCHAR NOT NULL, canonical_smiles VARCHAR, iupac_name VARCHAR,
    formula VARCHAR, mw DOUBLE, monomer_classes VARCHAR[]
);
CREATE TABLE IF NOT EXISTS polymer_monomers (
    polymer_id BIGINT NOT NULL, monomer_id INTEGER, monomer_smiles VARCHAR NOT NULL,
    role VARCHAR NOT NULL,              -- mon1 / mon2
    polymer_class VARCHAR NOT NULL, source_id VARCHAR NOT NULL, row_index BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    source_id VARCHAR NOT NULL, row_index BIGINT NOT NULL, scope VARCHAR NOT NULL,
    field VARCHAR, raw_text VARCHAR, reason VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS build_info (key VARCHAR PRIMARY KEY, value VARCHAR);
"""

DERIVED_TABLES = """
-- one row per polymer, property and kind of data: the values a question or a gold answer should use.
-- A measurement copied into another source file (duplicate_of) counts once in the median and the count.
-- Materialised at build time (the KB is read-only afterwards), so filtered queries do not re-aggregate.
CREATE TABLE property_summary AS
SELECT polymer_id, property, kind, any_value(unit) AS unit,
       median(value) FILTER (WHERE duplicate_of IS NULL) AS value, min(value) AS min_value,
       max(value) AS max_value, count(*) FILTER (WHERE duplicate_of IS NULL) AS n_measurements,
       count(DISTINCT source_id) AS n_sources,
       string_agg(DISTINCT source_id, '; ' ORDER BY source_id) AS sources
FROM measurements GROUP BY polymer_id, property, kind ORDER BY property, kind, value;
"""


def connect_read_only(db_path: Path) -> duckdb.DuckDBPyConnection:
    """Open a finished KB read-only; refuse a missing file or one an interrupted build left behind."""
    if not Path(db_path).exists():
        raise KBNotBuiltError(f"no knowledge base at {db_path}; run `python -m kb.build` first")
    con = duckdb.connect(str(db_path), read_only=True)
    row = con.execute("SELECT value FROM build_info WHERE key = 'complete'").fetchone()
    if row is None or row[0] != "true":
        con.close()
        raise KBNotBuiltError(f"{db_path} is incomplete (an interrupted build?); run `python -m kb.build`")
    return con
