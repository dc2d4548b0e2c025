"""Readers and value ingestion on real files, including a deliberately corrupted copy."""

import shutil

import pytest

from kb.ingest import to_measurements
from kb.manifest import load_manifest, resolve
from kb.readers import read_source


def _src(source_id):
    return next(f for f in load_manifest().files if f.source_id == source_id)


def _read(source_id, data_dir):
    src = _src(source_id)
    return read_source(src, resolve(src, data_dir)[0])


def test_every_table_source_reads_and_accounts(data_dir):
    for src in load_manifest().files:
        parsed = read_source(src, resolve(src, data_dir)[0])
        row_rejections = sum(r.scope == "row" for r in parsed.rejections)
        assert len(parsed.rows) + row_rejections == parsed.rows_read, src.source_id


def test_row_counts_match_source_txt(data_dir):
    expected = {"polymetrix_tg/Polymer_Tg.csv": 7252, "neurips_opp2025/train.csv": 7973,
                "smipoly/SMiPoly_001_generatedPolymer.csv.gz": 574837, "smipoly/202207_smip_monset.csv": 1083,
                "polyverse/Gas_permeability_solubility_diffusivity/master_transport_2025_08_13.csv": 7826,
                "tg_bicerano_sc/Bicerano_bigsmiles.csv": 304, "polymer_genome_mmpolymer/Eat.csv": 390}
    for source_id, n in expected.items():
        assert _read(source_id, data_dir).rows_read == n, source_id


def test_units_are_converted_on_ingest(data_dir):
    parsed = _read("tg_bicerano_sc/JCIM_sup_bigsmiles.csv", data_dir)
    measurements, _ = to_measurements(parsed.values)
    first = measurements.iloc[0]
    assert first.unit == "K" and first.original_unit == "degC"
    assert first.value == pytest.approx(float(first.original_value) + 273.15)


def test_polyverse_transport_labels_map_to_properties_and_kinds(data_dir):
    parsed = _read("polyverse/Gas_permeability_solubility_diffusivity/master_transport_2025_08_13.csv", data_dir)
    measurements, _ = to_measurements(parsed.values)
    assert {"perm_o2", "diff_co2", "sol_ch4"} <= set(measurements.property)
    assert set(measurements.kind) == {"experimental", "md_simulated"}
    assert measurements.temperature_k.between(270, 350).all()
    perm = measurements[measurements.property == "perm_o2"].iloc[0]
    assert perm.value == pytest.approx(10 ** (float(perm.original_value) + 10))   # log10(cc cm/(cm2 s cmHg)) -> Barrer
    assert "[*]" in " ".join(parsed.rows.smiles.head(50)) or "*" in " ".join(parsed.rows.smiles.head(50))


def test_afzal_placeholders_become_stars(data_dir):
    parsed = _read("tg_bicerano_sc/afzal2021_ap0c00524_si_001.csv", data_dir)
    assert not parsed.rows.smiles.str.contains(r"\[Ce\]|\[Th\]").any()
    assert parsed.rows.raw_smiles.str.contains(r"\[Ce\]").all()


def test_corrupted_rows_are_rejected_with_reasons(data_dir, tmp_path):
    src = _src("polymer_genome_mmpolymer/EPS.csv")
    copy = tmp_path / src.dataset / src.file
    copy.parent.mkdir(parents=True)
    shutil.copy(data_dir / src.dataset / src.file, copy)
    with open(copy, "a") as fh:
        fh.write("*CC(*)Cl,3.1,extra-field\n")   # malformed record
        fh.write(",2.5\n")                        # empty structure
        fh.write("*CC(*)Br,not-a-number\n")       # bad value
        fh.write("*CC(*)I,250\n")                 # dielectric constant out of range
    parsed = read_source(src, copy)
    assert parsed.rows_read == 382 + 4
    reasons = {r.reason for r in parsed.rejections}
    assert any("expected 2 fields, found 3" in r for r in reasons)
    assert any("empty structure" in r for r in reasons)
    measurements, value_rejections = to_measurements(parsed.values)
    texts = {r.reason for r in value_rejections}
    assert any("'not-a-number' is not a number" in r for r in texts)
    assert any("outside plausible range" in r for r in texts)
    assert len(measurements) == 382
