"""The deterministic reasoner driven through the solver graph on generated train tasks of a few templates:
answers match the gold (design answers pass the tool checks), budgets end honestly, the API batches."""

from __future__ import annotations

import pytest

from agents.answers import answers_match
from agents.files import read_tasks
from agents.solver.api import build_solver
from agents.solver.config import SolverConfig
from agents.taskgen.config import TaskGenConfig
from agents.taskgen.run import generate

pytest.importorskip("agents.solver.reasoner")

TEMPLATES = ["aromatic_ring_count", "linkage_present", "pair_higher", "route_feasibility", "design_polymer"]


@pytest.fixture(scope="module")
def train_tasks(small_kb, small_kb_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("solver_tasks")
    generate(TaskGenConfig(kb_dir=small_kb_config.kb_dir, out_dir=out, scale=0.004, n_jobs=1, seed=5,
                           templates=TEMPLATES, splits={"train": 1.0, "dev": 0.0, "test": 0.0}))
    tasks = [t for t in read_tasks(out / "tasks.jsonl") if t.split == "train"]
    picked = {}
    for t in tasks:
        picked.setdefault(t.template, []).append(t)
    return [t for ts in picked.values() for t in ts[:2]]


def test_reasoner_solves_through_the_graph(small_kb_config, train_tasks):
    assert {t.template for t in train_tasks} == set(TEMPLATES)
    seen = []
    traces = build_solver("reasoner", small_kb_config.kb_dir, SolverConfig()).solve_many(
        train_tasks, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(train_tasks), len(train_tasks))
    for task, trace in zip(train_tasks, traces, strict=True):
        assert trace.task_id == task.id and trace.model == "reasoner" and trace.outcome is None
        assert trace.tool_calls == sum(s.tool_call is not None for s in trace.steps) > 0
        if task.answer_type == "polymer":
            assert trace.verified, trace.verification_note      # every constraint checked by the tools
        else:
            assert answers_match(task.gold, trace.final_answer), (task.template, trace.final_answer)


def test_reasoner_over_budget_is_an_honest_no_answer(small_kb_config, train_tasks):
    task = next(t for t in train_tasks if t.template == "pair_higher")
    trace = build_solver("reasoner", small_kb_config.kb_dir, SolverConfig(max_steps=1)).solve(task)
    assert (trace.outcome, trace.final_answer, len(trace.steps)) == ("budget", None, 1)
