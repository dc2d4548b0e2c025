"""kb.structure_index on the small KB: built by kb.build, order, id look-up, class table, limits, deadline."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from kb.config import KBPaths
from kb.structure_index import UNMEASURED, index_folder, load_structure_index, required_elements
from tools.kb_view import KBView
from tools.structure_index import structure_index


@pytest.fixture(scope="module")
def index(small_kb, small_kb_config):
    return structure_index(KBView(small_kb_config.kb_dir))


def test_order_is_group_then_size(index) -> None:
    assert len(index) > 1000
    assert np.all(np.diff(index.group) >= 0)
    for g in range(UNMEASURED + 1):
        start, end = index.bounds[g]
        assert np.all(np.diff(index.heavy[start:end]) >= 0)
    assert index.bounds[0][1] > index.bounds[0][0]  # measured train polymers exist


def test_rows_classes_and_table(index) -> None:
    some = index.ids[[0, 5, len(index) - 1]]
    assert list(index.ids[index.rows_of([*some, 123])]) == list(some)
    table = index.class_table()
    assert table.num_rows == len(index)
    assert set(index.class_of(some).values()) <= set(index.class_names)
    assert len(index.ids_of_class("polyolefin")) > 100 and len(index.ids_of_class("no such class")) == 0


def test_limits_and_candidates(index) -> None:
    benzene = Chem.MolFromSmarts("c1ccccc1")
    found = index.search(benzene, 5, [0, 1, 2], [UNMEASURED])
    assert len(found.rows) == 5 and found.more and not found.stopped
    candidates = index.rows_of(index.ids[index.bounds[UNMEASURED][0]:][:300])
    rows = index.search(benzene, 1000, [], [], candidates).rows
    assert set(rows) <= set(candidates.tolist()) and rows


def test_a_passed_deadline_stops_the_search(index) -> None:
    """The search checks its deadline between library slices: one already past stops it at once."""
    found = index.search(Chem.MolFromSmarts("c1ccccc1"), 5, [0, 1, 2], [UNMEASURED], deadline=0.0)
    assert found.stopped and found.rows == []


def test_built_with_the_kb_and_reloaded(index, small_kb_config) -> None:
    folder = index_folder(KBPaths(small_kb_config.kb_dir).current)
    assert (folder / "arrays.npz").exists() and not list(folder.parent.glob("*.tmp*"))
    again = load_structure_index(folder)
    assert np.array_equal(again.ids, index.ids) and np.array_equal(again.class_code, index.class_code)
    assert len(again.library) == len(index.library) == len(index)


@pytest.mark.parametrize(("smarts", "symbols"), [
    ("[Se]", {"Se"}), ("[#34]", {"Se"}), ("FC(F)F", {"C", "F"}), ("[CX3](=O)[OX2H0]", {"C", "O"}),
    ("[C,N]", set()), ("[!#6]", set()), ("[$(CO)]", set()), ("*", set()), ("c1ccsc1", {"C", "S"}),
])
def test_required_elements(smarts: str, symbols: set[str]) -> None:
    table = Chem.GetPeriodicTable()
    expected = sum(1 << table.GetAtomicNumber(s) for s in symbols)
    assert required_elements(Chem.MolFromSmarts(smarts)) == expected


def test_element_prefilter_keeps_rank_order(index) -> None:
    silicon = Chem.MolFromSmarts("[Si]")
    has_si = np.flatnonzero(index.elements & np.uint64(1 << 14))
    assert 0 < len(has_si) < len(index) // 10  # rare enough to take the prefiltered path
    found = index.search(silicon, 1000, [0, 1, 2], [UNMEASURED])
    rows = found.rows
    assert sorted(rows) == sorted(has_si.tolist()) and not found.more
    ranks = [(index.group[r] == UNMEASURED, index.heavy[r]) for r in rows]
    assert ranks == sorted(ranks)
