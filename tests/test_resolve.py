"""tools.resolve: polymers named by id, name or any SMILES writing; errors that say what would work."""

from __future__ import annotations

import duckdb
import pytest

from tools.errors import ToolError
from tools.kb_view import KBView
from tools.resolve import checked_property, checked_unit, resolve_polymer, syntax_detail


@pytest.fixture(scope="module")
def named(small_kb) -> tuple[int, str, str]:
    with duckdb.connect(small_kb.db_path, read_only=True) as con:
        return con.execute("SELECT polymer_id, key, name FROM polymers WHERE name IS NOT NULL AND status = 'linear' "
                           "ORDER BY n_measurements DESC, polymer_id LIMIT 1").fetchone()


def test_by_id_name_and_smiles(view: KBView, named) -> None:
    pid, key, name = named
    assert resolve_polymer(view, pid).unit.key == key
    assert resolve_polymer(view, str(pid)).polymer_id == pid
    assert resolve_polymer(view, f"  {name.lower()} ").polymer_id == pid
    by_key = resolve_polymer(view, key)
    assert (by_key.polymer_id, by_key.name) == (pid, name)


def test_not_in_kb_and_unknown(view: KBView) -> None:
    outside = resolve_polymer(view, "*CC(*)CCCCCCCCCCCCCCCCCCCCCl")
    assert outside.polymer_id is None and outside.unit.status == "linear"
    with pytest.raises(ToolError, match="no polymer with id 7"):
        resolve_polymer(view, 7)
    with pytest.raises(ToolError, match="nor a polymer name in the KB; KB names close to it"):
        resolve_polymer(view, "polystyrenne")


def test_syntax_details() -> None:
    assert "unbalanced parentheses" in syntax_detail("*CC(C*")
    assert "unbalanced brackets" in syntax_detail("*C[Si*")
    assert "ring bond 1" in syntax_detail("*C1CC*")
    assert syntax_detail("*CC*") == ""


def test_checked_property_and_unit() -> None:
    assert checked_property(" TG ").name == "tg"
    with pytest.raises(ToolError, match="did you mean perm_co2"):
        checked_property("perm_c02")
    with pytest.raises(ToolError, match="invalid polymer '\\*CC': one attachment point"):
        checked_unit("*CC")


def test_a_name_of_several_polymers_is_refused_with_the_candidates(view: KBView, small_kb) -> None:
    with duckdb.connect(small_kb.db_path, read_only=True) as con:
        name, ids = con.execute("SELECT any_value(name), list(DISTINCT polymer_id ORDER BY polymer_id) FROM "
                                "polymer_names GROUP BY lower(name) HAVING count(DISTINCT polymer_id) > 1 "
                                "ORDER BY 1 LIMIT 1").fetchone()
    with pytest.raises(ToolError, match=f"fits {len(ids) if len(ids) <= 5 else 'over 5'} KB polymers") as info:
        resolve_polymer(view, name)
    assert all(f"id {pid}" in str(info.value) for pid in ids[:5])


@pytest.mark.parametrize("text", ["9" * 40, "\u00b2", "*CC*\u00b2", "*CC* polystyrene"])
def test_digits_and_text_rdkit_would_misread_are_not_structures(view: KBView, text: str) -> None:
    with pytest.raises(ToolError, match="no polymer with id|nor a polymer name"):
        resolve_polymer(view, text)
