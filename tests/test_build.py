"""End to end: the small KB built once from the real mirror (see conftest.small_kb)."""

import duckdb
import numpy as np
import pytest

from kb.build import build_kb
from kb.errors import KBNotBuiltError
from kb.fp_index import FingerprintIndex
from kb.manifest import load_manifest
from kb.stats import kb_stats
from kb.store import connect_read_only


@pytest.fixture(scope="module")
def con(small_kb):
    connection = connect_read_only(small_kb.db_path)
    yield connection
    connection.close()


def test_every_source_is_ingested_and_accounted(con, small_kb_config):
    rows = con.execute("SELECT source_id, rows_read, rows_ingested, rows_quarantined FROM sources").fetchall()
    assert {r[0] for r in rows} == {f.source_id for f in load_manifest().files}
    for source_id, read, ingested, quarantined in rows:
        assert read == ingested + quarantined, source_id
        assert read <= small_kb_config.max_rows, source_id
    in_quarantine = dict(con.execute(
        "SELECT source_id, count(DISTINCT row_index) FROM quarantine WHERE scope = 'row' GROUP BY 1").fetchall())
    for source_id, _, _, quarantined in rows:
        assert in_quarantine.get(source_id, 0) == quarantined, source_id


def test_measurements_keep_provenance_and_canonical_units(con):
    bad = con.execute("""SELECT count(*) FROM measurements m JOIN properties p ON p.name = m.property
                         WHERE m.unit <> p.unit OR m.value < p.min_value OR m.value > p.max_value
                            OR m.source_id IS NULL OR m.original_value IS NULL OR m.licence IS NULL""").fetchone()[0]
    assert bad == 0
    kinds = {r[0] for r in con.execute("SELECT DISTINCT kind FROM measurements").fetchall()}
    assert {"experimental", "md_simulated", "dft"} <= kinds


def test_overlapping_sources_share_one_polymer(con):
    """NeurIPS train rows all recur in the OPC dev set: same polymer ids, separate measurements."""
    shared = con.execute("""
        SELECT count(DISTINCT a.polymer_id) FROM measurements a JOIN measurements b USING (polymer_id, property)
        WHERE a.source_id = 'neurips_opp2025/train.csv' AND b.source_id = 'opc_data_dev/prediction_data_dev.csv'
    """).fetchone()[0]
    assert shared > 0


def test_splits_are_disjoint_and_complete(con):
    assert con.execute("SELECT count(*) FROM polymers WHERE split IS NULL").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM (SELECT key FROM polymers GROUP BY key "
                       "HAVING count(DISTINCT split) > 1)").fetchone()[0] == 0
    splits = dict(con.execute("SELECT split, count(*) FROM polymers GROUP BY 1").fetchall())
    assert set(splits) == {"train", "dev", "test"}
    total = sum(splits.values())
    assert 0.6 < splits["train"] / total < 0.95


def test_nearest_fingerprint_neighbour_is_itself(small_kb_config, con):
    index = FingerprintIndex.load(small_kb_config.paths.fp_index)
    rows = con.execute("SELECT polymer_id, morgan FROM fingerprints USING SAMPLE 50 ROWS (reservoir, 7)").fetchall()
    for polymer_id, blob in rows:
        hits = index.search(np.frombuffer(blob, dtype=np.uint8), k=5)
        assert hits[0][1] == pytest.approx(1.0)
        top = {pid for pid, sim in hits if sim == pytest.approx(1.0)}
        assert polymer_id in top


def test_smipoly_links_and_monomers(con):
    n_links, n_classes = con.execute(
        "SELECT count(*), count(DISTINCT polymer_class) FROM polymer_monomers").fetchone()
    assert n_links > 0 and n_classes >= 1
    named = con.execute("SELECT count(*) FROM monomers WHERE iupac_name IS NOT NULL AND len(monomer_classes) > 0")
    assert named.fetchone()[0] > 0


def test_stats_report_totals(small_kb):
    stats = kb_stats(small_kb.db_path)
    totals = stats["totals"]
    assert totals["total_data_points"] == totals["measurements"] + totals["computed_feature_values"]
    assert totals["measurements"] > 1000
    assert stats["sources"]["accounted"].all()


def test_noop_rebuild_is_up_to_date(small_kb_config, small_kb):
    again = build_kb(small_kb_config)
    assert again.up_to_date and again.kb_version == small_kb.kb_version


def test_read_only_and_incomplete_kb_refused(small_kb, tmp_path):
    con = connect_read_only(small_kb.db_path)
    with pytest.raises(duckdb.Error):
        con.execute("DELETE FROM polymers")
    con.close()
    partial = tmp_path / "partial.duckdb"
    c = duckdb.connect(str(partial))
    c.execute("CREATE TABLE build_info (key VARCHAR, value VARCHAR)")
    c.close()
    with pytest.raises(KBNotBuiltError, match="incomplete"):
        connect_read_only(partial)
    with pytest.raises(KBNotBuiltError, match="no knowledge base"):
        connect_read_only(tmp_path / "missing.duckdb")


def test_corrupted_copy_lands_in_quarantine_with_reasons(data_dir, tmp_path):
    """A copied CSV with a broken record, a bad SMILES and a bad value: rejected rows keep their reasons."""
    import shutil

    from kb.config import BuildConfig

    source_id = "polymer_genome_mmpolymer/EPS.csv"
    mirror = tmp_path / "mirror"
    for sid in (source_id, "smipoly/202207_smip_monset.csv"):
        (mirror / sid).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / sid, mirror / sid)
    corrupted = mirror / source_id
    lines = corrupted.read_text().splitlines()
    lines[5] = "*CC(*)C(C,2.9"                      # unparseable SMILES
    lines[6] = "*CC(*)C,2.9,oops"                   # malformed record
    lines[7] = "*CC,2.2"                            # one attachment point
    lines[8] = lines[8].split(",")[0] + ",abc"      # value not a number
    corrupted.write_text("\n".join(lines) + "\n")
    from kb.manifest import load_manifest

    src = next(f for f in load_manifest().files if f.source_id == source_id)
    from kb.errors import ChecksumError

    with pytest.raises(ChecksumError):
        build_kb(BuildConfig(data_dir=mirror, kb_dir=tmp_path / "kb", sources=[source_id], text_index=False))
    # the md5 guard is right to refuse; to test quarantine we read the corrupted copy directly
    from kb.assemble import Tables, add_source
    from kb.build import _repeat_units
    from kb.readers import read_source

    parsed = read_source(src, corrupted)
    config = BuildConfig(data_dir=mirror, kb_dir=tmp_path / "kb2", n_jobs=1, text_index=False)
    units = _repeat_units(sorted(set(parsed.rows["smiles"])), config, lambda *a: None)
    tables = Tables()
    report = add_source(tables, src, "x", parsed, units)
    quarantine = tables.quarantine[0]
    assert report["rows_read"] == 382
    assert report["rows_read"] == report["rows_ingested"] + report["rows_quarantined"]
    assert report["rows_quarantined"] == 3 and report["values_quarantined"] == 1
    reasons = dict(zip(quarantine["row_index"], quarantine["reason"]))
    assert "parse" in reasons[4].lower()
    assert "expected 2 fields" in reasons[5]
    assert "one attachment point" in reasons[6]
    assert "is not a number" in reasons[7]


def test_polymers_sharing_a_name_share_a_split(con):
    """Families (kb.families): a name never leads from a hidden split's polymer to a visible twin."""
    crossing = con.execute("""SELECT lower(n.name), count(DISTINCT p.split) FROM polymer_names n
                              JOIN polymers p USING (polymer_id) GROUP BY 1 HAVING count(DISTINCT p.split) > 1""").fetchall()
    assert crossing == []
    shared = con.execute("SELECT count(*) FROM (SELECT lower(name) FROM polymer_names GROUP BY 1 "
                         "HAVING count(DISTINCT polymer_id) > 1)").fetchone()[0]
    assert shared > 0  # the small KB has names shared by several polymers, so the check above is real
