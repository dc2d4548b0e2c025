"""tools.lookup on the small real KB: values equal the measurements table, constraints, hidden splits."""

from __future__ import annotations

import statistics

import duckdb
import pytest
from rdkit import Chem

from kb.backbone_class import backbone_class
from kb.repeat_unit import repeat_unit_power, to_mol
from tools.errors import ToolError
from tools.kb_view import KBView
from tools.lookup import (
    FindArgs,
    PolymerRecordArgs,
    PropertyInfoArgs,
    PropertyValuesArgs,
    find_polymers,
    get_property_values,
    polymer_record,
    property_info,
)
from tools.schema import Constraint


@pytest.fixture(scope="module")
def test_view(small_kb, small_kb_config) -> KBView:
    return KBView.for_split(small_kb_config.kb_dir, "test")


@pytest.fixture(scope="module")
def con(small_kb) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(small_kb.db_path, read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def tg_polymer(con) -> tuple[int, str]:
    """A linear train polymer with several Tg values (id, key)."""
    return con.execute("""
        SELECT p.polymer_id, p.key FROM polymers p JOIN measurements m USING (polymer_id)
        WHERE p.split = 'train' AND p.status = 'linear' AND m.property = 'tg'
        GROUP BY ALL ORDER BY count(*) DESC, p.polymer_id LIMIT 1""").fetchone()


@pytest.fixture(scope="module")
def hidden_polymer(con) -> tuple[int, str, float]:
    """A test-split polymer with a Tg value (id, key, median Tg in K)."""
    return con.execute("""
        SELECT polymer_id, any_value(p.key), median(value) FROM measurements JOIN polymers p USING (polymer_id)
        WHERE p.split = 'test' AND property = 'tg' AND duplicate_of IS NULL GROUP BY polymer_id ORDER BY polymer_id
        LIMIT 1""").fetchone()


def test_values_equal_the_measurements_table(view: KBView, con, tg_polymer) -> None:
    pid, key = tg_polymer
    got = get_property_values(view, PropertyValuesArgs(polymer=pid, property="tg"))
    rows = con.execute("SELECT value, kind, source_id, duplicate_of FROM measurements WHERE polymer_id = ? "
                       "AND property = 'tg'", [pid]).fetchall()
    assert sorted((m.value, m.kind, m.source_id) for m in got.values) == sorted(r[:3] for r in rows)
    assert got.n_values == len(rows) >= 2 and got.unit == "K" and got.key == key
    for s in got.summary:  # a value copied from another source file counts once
        assert s.median == pytest.approx(statistics.median(v for v, k, _, copy in rows if k == s.kind and copy is None))
    assert set(got.provenance.source_ids) == {r[2] for r in rows}
    summary = con.execute("SELECT kind, value FROM property_summary WHERE polymer_id = ? AND property = 'tg'",
                          [pid]).fetchall()
    assert {k: pytest.approx(v) for k, v in summary} == {s.kind: s.median for s in got.summary}
    assert got.provenance.polymer_ids == [pid] and got.provenance.kb_version


def test_values_in_another_unit_and_another_writing(view: KBView, tg_polymer) -> None:
    pid, key = tg_polymer
    kelvin = get_property_values(view, PropertyValuesArgs(polymer=key, property="tg"))
    doubled = repeat_unit_power(to_mol(key), 2)
    celsius = get_property_values(view, PropertyValuesArgs(polymer=Chem.MolToSmiles(doubled), property="TG",
                                                           unit="degC"))
    assert celsius.polymer_id == pid and celsius.unit == "degC"
    assert [m.value for m in celsius.values] == pytest.approx([m.value - 273.15 for m in kelvin.values])


def test_property_and_unit_errors(view: KBView, tg_polymer) -> None:
    pid, _ = tg_polymer
    with pytest.raises(ToolError, match="did you mean tg"):
        get_property_values(view, PropertyValuesArgs(polymer=pid, property="tgg"))
    with pytest.raises(ToolError, match="tg accepts: K, degC, degF"):
        get_property_values(view, PropertyValuesArgs(polymer=pid, property="tg", unit="Barrer"))
    with pytest.raises(ToolError, match="not in the KB; search for similar"):
        get_property_values(view, PropertyValuesArgs(polymer="*CC(*)CCCCCCCCCCCCCCCCCCCCCl", property="tg"))
    with pytest.raises(ToolError, match="did you mean"):
        find_polymers(view, FindArgs(constraints=[Constraint(type="property_range", property="densty", min=1)]))
    with pytest.raises(ToolError, match="give tg bounds in K"):
        find_polymers(view, FindArgs(constraints=[Constraint(type="property_range", property="tg", min=1,
                                                             unit="eV")]))
    with pytest.raises(ToolError, match="unknown group 'esterr'; did you mean ester"):
        find_polymers(view, FindArgs(constraints=[Constraint(type="require_group", group="esterr")]))
    with pytest.raises(ToolError, match="unknown polymer class 'polyesters'; did you mean polyester"):
        find_polymers(view, FindArgs(constraints=[Constraint(type="polymer_class", value="polyesters")]))


def test_hidden_values_never_leak(view: KBView, test_view: KBView, hidden_polymer) -> None:
    pid, key, tg = hidden_polymer
    assert get_property_values(view, PropertyValuesArgs(polymer=pid, property="tg")).values
    hidden = get_property_values(test_view, PropertyValuesArgs(polymer=key, property="tg"))
    assert hidden.values == [] and hidden.summary == [] and hidden.n_values == 0
    assert "no visible measurements" in hidden.note and str(round(tg)) not in hidden.note
    near = [Constraint(type="property_range", property="tg", min=tg - 0.5, max=tg + 0.5)]
    assert pid in {m.polymer_id for m in find_polymers(view, FindArgs(constraints=near, limit=200)).matches}
    assert pid not in {m.polymer_id for m in find_polymers(test_view, FindArgs(constraints=near, limit=200)).matches}
    record = polymer_record(test_view, PolymerRecordArgs(polymer=pid))
    assert record.properties == [] and record.key == key and "no visible property values" in record.note


def test_degc_query_equals_kelvin_query(view: KBView) -> None:
    in_c = [Constraint(type="property_range", property="tg", min=100, max=150, unit="degC", kind="experimental")]
    in_k = [Constraint(type="property_range", property="tg", min=373.15, max=423.15, kind="experimental")]
    a = find_polymers(view, FindArgs(constraints=in_c, limit=200))
    b = find_polymers(view, FindArgs(constraints=in_k, limit=200))
    assert a.n_total == b.n_total > 0
    assert [(m.polymer_id, m.values) for m in a.matches] == [(m.polymer_id, m.values) for m in b.matches]
    assert all(373.15 <= v.value <= 423.15 and v.kind == "experimental" for m in a.matches for v in m.values["tg"])


def test_groups_class_rank_and_licence(view: KBView, con) -> None:
    constraints = [Constraint(type="property_range", property="tg", min=300), Constraint(
        type="require_group", group="esters"), Constraint(type="forbid_group", group="fluorine")]
    found = find_polymers(view, FindArgs(constraints=constraints, rank_by="tg", descending=True, limit=50))
    assert found.matches
    ids = [m.polymer_id for m in found.matches]
    bad = con.execute("SELECT count(*) FROM features WHERE polymer_id IN (SELECT unnest(?::BIGINT[])) "
                      "AND (n_ester = 0 OR n_f > 0)", [ids]).fetchone()[0]
    assert bad == 0
    ranks = [m.rank_value for m in found.matches]
    assert ranks == sorted(ranks, reverse=True)
    polyesters = find_polymers(view, FindArgs(constraints=[Constraint(type="polymer_class", value="polyester")],
                                              limit=200))
    assert polyesters.matches
    for m in polyesters.matches:
        smipoly = {r[0] for r in con.execute("SELECT polymer_class FROM polymer_monomers WHERE polymer_id = ?",
                                             [m.polymer_id]).fetchall()}
        status = con.execute("SELECT status FROM polymers WHERE polymer_id = ?", [m.polymer_id]).fetchone()[0]
        assert "polyester" in smipoly | {backbone_class(to_mol(m.key), status)}
    gpl = find_polymers(view, FindArgs(constraints=[Constraint(type="licence", value="GPL")], limit=20))
    for m in gpl.matches:
        assert con.execute("SELECT count(*) FROM measurements WHERE polymer_id = ? AND licence LIKE '%GPL%'",
                           [m.polymer_id]).fetchone()[0] > 0
    injected = [Constraint(type="licence", value="x') OR TRUE; DROP TABLE polymers; --")]
    assert find_polymers(view, FindArgs(constraints=injected)).n_total == 0


def test_property_info(view: KBView, test_view: KBView, con) -> None:
    info = property_info(view, PropertyInfoArgs(name="tg")).properties[0]
    assert info.unit == "K" and {"K", "degC", "degF"} <= set(info.accepted_units)
    expected = dict(con.execute("SELECT kind, count(DISTINCT polymer_id) FROM measurements WHERE property = 'tg' "
                                "GROUP BY kind").fetchall())
    assert info.n_polymers == expected
    hidden = property_info(test_view, PropertyInfoArgs(name="tg")).properties[0]
    assert sum(hidden.n_polymers.values()) < sum(expected.values())
    assert len(property_info(view, PropertyInfoArgs()).properties) > 50
    with pytest.raises(ToolError, match="did you mean density"):
        property_info(view, PropertyInfoArgs(name="densiti"))


def test_polymer_record(view: KBView, con, tg_polymer) -> None:
    pid, key = tg_polymer
    record = polymer_record(view, PolymerRecordArgs(polymer=key))
    summary = con.execute("SELECT property, kind, value, min_value, max_value, n_measurements, sources "
                          "FROM property_summary WHERE polymer_id = ? ORDER BY 1, 2", [pid]).fetchall()
    assert record.polymer_id == pid
    assert [(r.property, r.kind, r.min_value, r.max_value, r.n, r.sources) for r in record.properties] == [
        (p, k, lo, hi, n, src) for p, k, _, lo, hi, n, src in summary]
    assert [r.value for r in record.properties] == pytest.approx([row[2] for row in summary])
    assert "tg" in {p.property for p in record.properties}
    smipoly_id = con.execute("SELECT polymer_id FROM polymer_monomers ORDER BY polymer_id LIMIT 1").fetchone()[0]
    linked = polymer_record(view, PolymerRecordArgs(polymer=smipoly_id))
    assert linked.monomers and linked.monomers[0].polymer_class


def test_pet_tg_by_name_and_nylon6_by_split(view: KBView, test_view: KBView, con) -> None:
    pet = get_property_values(view, PropertyValuesArgs(polymer="poly(ethylene terephthalate)", property="tg",
                                                       kind="experimental"))
    rows = con.execute("SELECT m.value FROM measurements m JOIN polymers p USING (polymer_id) WHERE p.key = ? "
                       "AND m.property = 'tg' AND m.kind = 'experimental'", [pet.key]).fetchall()
    assert sorted(m.value for m in pet.values) == sorted(r[0] for r in rows)
    assert pet.summary[0].median == pytest.approx(345.0)  # PET's Tg in the Bicerano / Afzal sets
    nylon6 = "*NCCCCCC(*)=O"
    split = con.execute("SELECT split FROM polymers WHERE key = '*CCCC(=O)NCC*'").fetchone()[0]
    seen = get_property_values(test_view, PropertyValuesArgs(polymer=nylon6, property="tg"))
    assert bool(seen.values) == test_view.visible_split(split)
    assert get_property_values(view, PropertyValuesArgs(polymer=nylon6, property="tg")).summary[0].median == 335.0
