"""Per-task hidden sets: a hidden polymer's measured values are unreachable through every tool (by id, name,
SMILES, SQL, search, neighbours), estimates never lean on the polymer itself, and a test-split solve sees no
test value."""

from __future__ import annotations

import json

import pytest

from agents.solver.api import build_solver
from agents.solver.config import SolverConfig
from kb.store import connect_read_only
from tests.reasoner_fixtures import small_models, small_tasks
from tools.estimate import EstimateContext
from tools.kb_view import KBView, own_polymer_ids
from tools.langchain_tools import build_tools


@pytest.fixture(scope="module")
def models(small_kb, small_kb_config):
    return small_models(small_kb_config.kb_dir)


@pytest.fixture(scope="module")
def target(small_kb):
    """A named train polymer with measured Tg (and other values)."""
    con = connect_read_only(small_kb.db_path)
    try:
        return con.execute("""
            SELECT p.polymer_id, p.key, p.name FROM polymers p JOIN property_summary s USING (polymer_id)
            WHERE p.split = 'train' AND p.name IS NOT NULL AND s.property = 'tg' AND s.kind = 'experimental'
              AND (SELECT count(*) FROM polymer_names n WHERE lower(n.name) = lower(p.name)) =
                  (SELECT count(*) FROM polymer_names n WHERE n.polymer_id = p.polymer_id AND lower(n.name) = lower(p.name))
            ORDER BY p.n_measurements DESC, p.polymer_id LIMIT 1""").fetchone()
    finally:
        con.close()


def _tools(view, ctx=None):
    return {t.name: t for t in build_tools(view, ctx)}


def _data(text: str) -> dict:
    result = json.loads(text)
    assert result["ok"], result
    return result["data"]


def test_hidden_polymer_value_unreachable_by_id_name_smiles_and_sql(small_kb_config, target):
    pid, key, name = target
    open_view = KBView.for_split(small_kb_config.kb_dir, "train")
    shown, hidden = _tools(open_view), _tools(open_view.hiding({pid}))
    for ref in (str(pid), key, name):  # the same polymer however it is named
        assert _data(shown["get_property_values"].invoke({"polymer": ref, "property": "tg"}))["values"]
        assert _data(hidden["get_property_values"].invoke({"polymer": ref, "property": "tg"}))["values"] == []
        assert _data(shown["polymer_record"].invoke({"polymer": ref}))["properties"]
        assert _data(hidden["polymer_record"].invoke({"polymer": ref}))["properties"] == []
    for table in ("measurements", "property_summary"):
        sql = f"SELECT count(*) AS n FROM {table} WHERE polymer_id = {pid}"
        assert _data(shown["sql"].invoke({"sql": sql}))["rows"][0][0] > 0
        assert _data(hidden["sql"].invoke({"sql": sql}))["rows"][0][0] == 0
        bypass = json.loads(hidden["sql"].invoke({"sql": f"SELECT * FROM kb.main.{table} WHERE polymer_id = {pid}"}))
        assert not bypass["ok"]  # a schema-qualified name would skip the hiding view: refused
    find = {"constraints": [{"type": "property_range", "property": "tg", "min": 0, "max": 2000}], "limit": 200}
    assert pid in {m["polymer_id"] for m in _data(shown["find_polymers"].invoke(find))["matches"]}
    assert pid not in {m["polymer_id"] for m in _data(hidden["find_polymers"].invoke(find))["matches"]}
    near = _data(hidden["similar_polymers"].invoke({"polymer": key, "k": 5}))["neighbours"]
    assert all(not n["values"] for n in near if n["polymer_id"] == pid)
    hits = _data(hidden["substructure_search"].invoke({"fragment": key, "limit": 200}))["hits"]
    assert all(not h["measured"] for h in hits if h["polymer_id"] == pid)
    # the other train polymers are untouched by this task's hidden set
    other = _data(hidden["find_polymers"].invoke(find))["matches"]
    assert any(m["values"] for m in other)


def test_for_task_hides_every_polymer_the_task_shows(small_kb_config):
    _, tasks = small_tasks(small_kb_config.kb_dir)
    task = next(t for t in tasks if t.template == "rank_by_property" and t.split == "train")
    view = KBView.for_task(small_kb_config.kb_dir, task)
    assert view.hidden_polymer_ids == own_polymer_ids(task) and len(view.hidden_polymer_ids) == len(task.polymer_ids)
    assert view.hidden_splits == frozenset()
    assert KBView.for_task(small_kb_config.kb_dir, task, hide_own=False).hidden_polymer_ids == frozenset()
    tools = _tools(view)
    for ref in task.params.polymers:
        got = _data(tools["get_property_values"].invoke({"polymer": ref.psmiles, "property": task.params.property}))
        assert got["values"] == [] and got["summary"] == []


def test_estimate_never_lists_the_polymer_itself(small_kb_config, models, target):
    pid, key, _ = target
    view = KBView.for_split(small_kb_config.kb_dir, "train")
    ctx = EstimateContext(view)
    est = _data(_tools(view, ctx)["estimate_property"].invoke({"polymer": key, "property": "tg", "n_neighbours": 5}))
    assert est["polymer_id"] == pid and pid not in {n["polymer_id"] for n in est["neighbours"]}
    assert est["out_of_fold"] and est["measured_value"] is not None  # own value visible (not hidden) ...
    hidden = view.hiding({pid})
    blind = _data(_tools(hidden, ctx.for_view(hidden))["estimate_property"].invoke(
        {"polymer": key, "property": "tg", "n_neighbours": 5}))
    assert blind["measured_value"] is None and blind["value"] == est["value"]  # ... and hidden: the same estimate
    model = ctx.model("tg__experimental")
    assert pid in set(model.train_ids.tolist())
    in_sample = model.predict_one(model.inputs_of(key)[0], 1.0)[0]
    assert model.out_of_fold(pid) != pytest.approx(in_sample, abs=1e-9)  # cross-fitted, not the in-sample fit


def _leaks(node, test_ids: set[int]) -> list:
    """Values of test polymers in a tool output: any object naming a test polymer together with a value."""
    found = []
    if isinstance(node, dict):
        pid = node.get("polymer_id")
        if pid in test_ids:
            for field in ("values", "summary", "properties", "measured_value"):
                if node.get(field) not in (None, [], {}):
                    found.append((pid, field, node[field]))
        for v in node.values():
            found += _leaks(v, test_ids)
    elif isinstance(node, list):
        for v in node:
            found += _leaks(v, test_ids)
    return found


def test_no_test_value_visible_to_a_test_task_solve(small_kb, small_kb_config, models):
    con = connect_read_only(small_kb.db_path)
    test_ids = {r[0] for r in con.execute("SELECT polymer_id FROM polymers WHERE split = 'test'").fetchall()}
    con.close()
    _, tasks = small_tasks(small_kb_config.kb_dir)
    test_tasks = [t for t in tasks if t.split == "test"]
    assert len({t.template for t in test_tasks}) >= 20
    solver = build_solver("reasoner", small_kb_config.kb_dir, SolverConfig())  # the real graph and API
    looked = answered = 0
    for task in test_tasks:
        trace = solver.solve(task)
        answered += trace.final_answer is not None
        for step in trace.steps:
            if step.observation:
                looked += 1
                assert _leaks(json.loads(step.observation), test_ids) == [], (task.id, step.tool_call)
    assert looked > 100 and answered >= 0.8 * len(test_tasks)
