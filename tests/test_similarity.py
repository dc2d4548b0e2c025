"""Similarity tools on the small real KB."""

import json

import pytest

from tools.connections import connection
from tools.errors import ToolError
from tools.kb_view import KBView
from tools.similarity import SimilarArgs, TextSearchArgs, similar_polymers, text_search


def test_a_kb_polymer_is_its_own_nearest_neighbour(view):
    key, pid = connection(view).execute(
        "SELECT key, polymer_id FROM polymers WHERE status = 'linear' AND n_measurements > 0 "
        "ORDER BY polymer_id LIMIT 1").fetchone()
    result = similar_polymers(view, SimilarArgs(polymer=key, k=5))
    assert result.query_in_kb and result.neighbours[0].similarity == pytest.approx(1.0)
    assert pid in [n.polymer_id for n in result.neighbours if n.similarity == pytest.approx(1.0)]
    assert result.neighbours == sorted(result.neighbours, key=lambda n: -n.similarity)


def test_a_polymer_not_in_the_kb_gets_neighbours(view):
    result = similar_polymers(view, SimilarArgs(polymer="*CC(*)c1ccc(C(F)(F)F)cc1C#N", k=3))
    assert not result.query_in_kb and len(result.neighbours) == 3
    assert all(0 < n.similarity < 1 for n in result.neighbours)


def test_hidden_split_values_never_shown_next_to_neighbours(view, small_kb_config):
    hidden = KBView.for_split(small_kb_config.kb_dir, "test")
    key = connection(view).execute("SELECT key FROM polymers WHERE split = 'test' AND n_measurements > 0 "
                                   "AND status = 'linear' LIMIT 1").fetchone()[0]
    open_result = similar_polymers(view, SimilarArgs(polymer=key, k=1))
    blind_result = similar_polymers(hidden, SimilarArgs(polymer=key, k=1))
    assert open_result.neighbours[0].values            # the open view shows its values
    assert blind_result.neighbours[0].split == "test"  # the structure stays visible...
    assert blind_result.neighbours[0].values == {}     # ...its values do not


def test_text_search_finds_property_definitions_and_named_polymers(view):
    hits = text_search(view, TextSearchArgs(query="glass transition temperature", k=3, kinds=["property"]))
    assert hits.hits[0].doc_id == "property:tg"
    name = connection(view).execute("SELECT name FROM polymers WHERE name IS NOT NULL AND n_measurements > 0 "
                                    "ORDER BY polymer_id LIMIT 1").fetchone()[0]
    found = text_search(view, TextSearchArgs(query=name, k=5, kinds=["polymer"]))
    assert any(name in h.text for h in found.hits), json.dumps([h.text for h in found.hits])


def test_invalid_structure_is_a_tool_error(view):
    with pytest.raises(ToolError, match="two \\* ends"):
        similar_polymers(view, SimilarArgs(polymer="*CC", k=3))


def test_property_filter_finds_measured_analogues_across_a_hidden_split(view, small_kb_config):
    """A test polymer's closest structures are mostly test polymers (families stay in one split); asked for
    analogues with a measured Tg, the tool searches only polymers whose Tg the view shows."""
    hidden = KBView.for_split(small_kb_config.kb_dir, "test")
    key = connection(view).execute(
        "SELECT p.key FROM polymers p JOIN property_summary s USING (polymer_id) WHERE p.split = 'test' "
        "AND p.status = 'linear' AND s.property = 'tg' ORDER BY p.polymer_id LIMIT 1").fetchone()[0]
    result = similar_polymers(hidden, SimilarArgs(polymer=key, k=4, property="tg", kind="experimental"))
    assert len(result.neighbours) == 4
    for n in result.neighbours:
        assert n.split != "test" and "tg (experimental)" in n.values
        assert next(iter(n.values)).startswith("tg (")   # the asked property is listed first
    with pytest.raises(ToolError, match="unknown property|did you mean"):
        similar_polymers(hidden, SimilarArgs(polymer=key, k=4, property="tgg"))
    with pytest.raises(ToolError, match="kind needs a property"):
        similar_polymers(hidden, SimilarArgs(polymer=key, k=4, kind="experimental"))
