"""tools.structure on the small real KB: validation messages, descriptions, comparisons, fragment search."""

from __future__ import annotations

import duckdb
import pytest
from rdkit import Chem

from kb.assemble import polymer_id_of
from kb.repeat_unit import to_repeat_unit
from kb.structure_index import search_mol
from tools.errors import ToolError
from tools.kb_view import KBView
from tools.structure import (
    CompareArgs,
    DescribeArgs,
    SubstructureArgs,
    ValidateArgs,
    compare_polymers,
    describe_polymer,
    fragment_query,
    substructure_search,
    validate_polymer,
)

PET = "*OCCOC(=O)c1ccc(C(*)=O)cc1"
NYLON6 = "*NCCCCCC(*)=O"
PS = "*CC(*)c1ccccc1"
PMMA = "*CC(*)(C)C(=O)OC"



@pytest.fixture(scope="module")
def test_view(small_kb, small_kb_config) -> KBView:
    return KBView.for_split(small_kb_config.kb_dir, "test")


@pytest.fixture(scope="module")
def con(small_kb) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(small_kb.db_path, read_only=True)
    yield con
    con.close()


def kb_row(con: duckdb.DuckDBPyConnection, text: str) -> tuple | None:
    key = to_repeat_unit(text).key
    return con.execute("SELECT polymer_id, name, split FROM polymers WHERE key = ?", [key]).fetchone()


@pytest.mark.parametrize(("text", "problem"), [
    ("*CC(*", "unbalanced parentheses"),
    ("*C1CC(*)", "ring bond 1 opened but never closed"),
    ("*[Xx]C*", "cannot read the bracket atom [Xx]"),
    ("*CC", "one attachment point"),
    ("*CC(*)(*)C", "3 attachment points"),
    ("CCO", "no attachment point"),
    ("*CC*.CC", "2 disconnected fragments"),
    ("*C*C", "bonded to 2 atoms"),
    ("", "empty string"),
    ("*C(*)(C)(C)(C)C", "RDKit could not parse it"),  # pentavalent carbon
])
def test_validate_names_each_failure(view: KBView, text: str, problem: str) -> None:
    result = validate_polymer(view, ValidateArgs(polymer=text))
    assert not result.valid
    assert problem in result.problem
    assert result.hint and "*" in result.hint


def test_validate_gives_key_status_and_kb_id(view: KBView, con) -> None:
    result = validate_polymer(view, ValidateArgs(polymer="c1ccccc1C(*)C*"))
    assert result.valid and result.status == "linear" and result.key == PS
    row = kb_row(con, PS)
    assert (result.polymer_id, result.name) == ((row[0], row[1]) if row else (None, None))
    assert validate_polymer(None, ValidateArgs(polymer=PS)).polymer_id is None  # no view: no KB look-up


def test_validate_multi_attachment_keeps_key(view: KBView) -> None:
    result = validate_polymer(view, ValidateArgs(polymer="*CC(*)(*)C"))
    assert result.status == "multi_attachment" and result.n_attachments == 3 and result.key


def test_describe_pet(view: KBView, con) -> None:
    d = describe_polymer(view, DescribeArgs(polymer=PET))
    assert d.features["formula"] == "C10H8O4"
    assert d.features["mw"] == pytest.approx(192.17, abs=0.01)
    assert d.features["aromatic_rings"] == 1 and d.features["backbone_aromatic"] is True
    assert d.groups["ester"] == 2 and d.groups["aromatic_ring"] == 1
    assert d.polymer_class == "polyester" and "ester" in d.class_rule
    row = kb_row(con, PET)
    assert d.polymer_id == (row[0] if row else None)


def test_describe_nylon6_by_any_writing_and_by_id(view: KBView, con) -> None:
    d = describe_polymer(view, DescribeArgs(polymer="*C(=O)CCCCCN*"))
    assert d.groups == {"amide": 1} and d.polymer_class == "polyamide"
    assert d.features["backbone_atoms"] == 7 and d.features["sidechain_atoms"] == 1  # the C=O oxygen is pendant
    row = kb_row(con, NYLON6)
    if row is not None:
        assert describe_polymer(view, DescribeArgs(polymer=row[0])).key == d.key


def test_describe_pmma_side_chain_ester_is_not_polyester(view: KBView) -> None:
    d = describe_polymer(view, DescribeArgs(polymer=PMMA))
    assert d.groups["ester"] == 1 and d.polymer_class == "polyolefin"
    assert d.features["sidechain_atoms"] == 5  # CH3 + C(=O)OCH3


def test_describe_by_name_and_unknown_name(view: KBView, con) -> None:
    name, key = con.execute("SELECT name, key FROM polymers WHERE name IS NOT NULL ORDER BY n_measurements DESC "
                            "LIMIT 1").fetchone()
    assert describe_polymer(view, DescribeArgs(polymer=name.upper())).key == key
    with pytest.raises(ToolError, match="neither a valid repeat unit .* nor a polymer name"):
        describe_polymer(view, DescribeArgs(polymer="polystyreen"))
    with pytest.raises(ToolError, match="no polymer with id 12"):
        describe_polymer(view, DescribeArgs(polymer=12))


def test_compare_ps_pmma(view: KBView) -> None:
    c = compare_polymers(view, CompareArgs(polymer_a=PS, polymer_b=PMMA))
    assert not c.same_polymer
    assert c.groups_gained == {"ester": 1}
    assert c.groups_lost == {"aromatic_ring": 1, "phenyl": 1}
    assert c.feature_differences["aromatic_rings"].delta == -1
    assert c.feature_differences["mw"].delta == pytest.approx(100.12 - 104.15, abs=0.02)
    assert 0 < c.tanimoto < 0.5 and c.class_a == c.class_b == "polyolefin"


def test_compare_two_writings_of_one_polymer(view: KBView) -> None:
    c = compare_polymers(view, CompareArgs(polymer_a="*CCO*", polymer_b="*OCCOCC*"))
    assert c.same_polymer and c.tanimoto == 1.0 and not c.feature_differences and not c.groups_gained


@pytest.fixture(scope="module")
def search_mols(con) -> dict[int, Chem.Mol]:
    """Every KB polymer as the index searches it (dimer of a linear unit), for brute-force answers."""
    rows = con.execute("SELECT polymer_id, key, status FROM polymers").fetchall()
    return {pid: search_mol(Chem.MolFromSmiles(key), status) for pid, key, status in rows}


@pytest.mark.parametrize("fragment", ["[Si]O[Si]", "OCCO", "*C(F)(F)*"])
def test_substructure_search_equals_brute_force(view: KBView, search_mols, fragment: str) -> None:
    hits = substructure_search(view, SubstructureArgs(fragment=fragment, limit=200))
    query = fragment_query(fragment)[0]
    expected = {pid for pid, mol in search_mols.items() if mol.HasSubstructMatch(query)}
    got = {h.polymer_id for h in hits.hits}
    assert expected
    if hits.more_available:
        assert len(got) == 200 and got <= expected
    else:
        assert got == expected


def test_substructure_search_finds_pet_across_the_frame(view: KBView, con) -> None:
    row = kb_row(con, PET)
    assert row is not None, "the small KB holds PET"
    hits = substructure_search(view, SubstructureArgs(fragment="O=C(OCCOC(=O)c1ccccc1)c1ccccc1", limit=50))
    assert row[0] in {h.polymer_id for h in hits.hits}


def test_substructure_ranking_measured_first_then_size(view: KBView) -> None:
    hits = substructure_search(view, SubstructureArgs(fragment="c1ccccc1", limit=60)).hits
    ranks = [(not h.measured, h.heavy_atoms) for h in hits]
    assert ranks == sorted(ranks) and hits[0].measured


def test_substructure_with_property_respects_the_view(view: KBView, test_view: KBView, con) -> None:
    for v in (view, test_view):
        hits = substructure_search(v, SubstructureArgs(fragment="C(=O)N", with_property="tg", limit=200)).hits
        assert hits
        ids = [h.polymer_id for h in hits]
        n_with_tg = con.execute("SELECT count(DISTINCT polymer_id) FROM measurements WHERE property = 'tg' AND "
                                "polymer_id IN (SELECT unnest(?::BIGINT[]))", [ids]).fetchone()[0]
        assert n_with_tg == len(ids)
        assert all(v.visible_split(h.split) and h.measured for h in hits)
    test_hits = substructure_search(test_view, SubstructureArgs(fragment="C(=O)N", limit=200)).hits
    assert not any(h.measured for h in test_hits if h.split == "test")


def test_substructure_bad_input(view: KBView) -> None:
    with pytest.raises(ToolError, match="neither valid SMILES nor SMARTS"):
        substructure_search(view, SubstructureArgs(fragment="C(=O"))
    with pytest.raises(ToolError, match="did you mean tg"):
        substructure_search(view, SubstructureArgs(fragment="C(=O)O", with_property="Tgg"))
    with pytest.raises(ToolError, match="empty fragment"):
        substructure_search(view, SubstructureArgs(fragment="  "))


def test_hidden_split_structures_stay_visible(test_view: KBView, con) -> None:
    pid, key = con.execute("SELECT polymer_id, key FROM polymers WHERE split = 'test' AND status = 'linear' "
                           "AND n_measurements > 0 ORDER BY polymer_id LIMIT 1").fetchone()
    assert validate_polymer(test_view, ValidateArgs(polymer=key)).polymer_id == pid
    d = describe_polymer(test_view, DescribeArgs(polymer=pid))
    assert d.key == key and d.polymer_id == polymer_id_of(key)
