"""Synthesis-design templates: design golds and check_design_answer against the tools, routes against
SMiPoly's forward reactions, sub-question composition and seeds (small KB, plus the full KB when built)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdkit import Chem
from smipoly_routes import made, monomers_in

from agents.answers import answers_match
from agents.graph_taskgen import run_job
from agents.schema import Constraint, Task
from agents.taskgen.base import LETTERS, TemplateContext
from agents.taskgen.checks import task_problem
from agents.taskgen.pools import Pools
from agents.taskgen.registry import get_template
from agents.taskgen.templates.design import check_design_answer, design_index
from tools.connections import connection
from tools.constraint_sql import group_column
from tools.kb_view import KBView
from tools.lookup import (
    FindArgs,
    PolymerRecordArgs,
    PropertyValuesArgs,
    find_polymers,
    get_property_values,
    polymer_record,
)
from tools.structure import DescribeArgs, describe_polymer

FULL_KB = Path(__file__).resolve().parents[1] / ".polybench" / "kb"
TEMPLATES = ("design_polymer", "route_for_polymer", "route_feasibility")
NOT_IN_KB = "*CC(*)C(F)(F)C(F)(F)C(F)(F)C(F)(F)C(F)(F)Cl"


def in_range(c: Constraint, value: float) -> bool:
    return (c.min is None or value >= c.min) and (c.max is None or value <= c.max)


def kb_group_count(view: KBView, pid: int, group: str) -> int:
    """A group count from the KB's features table (the one find_polymers filters on), by direct SQL."""
    column = group_column(group)
    return connection(view).execute(f"SELECT {column} FROM features WHERE polymer_id = ?", [pid]).fetchone()[0]


def confirm(view: KBView, task: Task, stored_groups: bool = False) -> None:
    """Assert the gold with the tools: look-ups, structure description, find_polymers, forward_polymer.

    stored_groups: read group counts from the KB's features table instead of describe_polymer's fresh ones
    (for a KB built before a change of kb.features' group rules).
    """
    pid = task.polymer_ids[0]
    key = polymer_record(view, PolymerRecordArgs(polymer=pid)).key
    if task.template == "design_polymer":
        assert task.gold.polymer == key
        described = describe_polymer(view, DescribeArgs(polymer=pid))
        for c in task.constraints:
            if c.type == "property_range":
                found = get_property_values(view, PropertyValuesArgs(polymer=pid, property=c.property, kind=c.kind))
                assert any(in_range(c, s.median) for s in found.summary)
            elif c.type == "polymer_class":
                assert c.value in described.kb_classes
            else:
                count = kb_group_count(view, pid, c.group) if stored_groups else described.groups.get(c.group, 0)
                assert (count > 0) == (c.type == "require_group")
        assert find_polymers(view, FindArgs(constraints=task.constraints, limit=5)).n_total >= 3
        return
    pclass = polymer_record(view, PolymerRecordArgs(polymer=pid)).monomers[0].polymer_class
    if task.template == "route_for_polymer":
        opts = [o.split(") ", 1)[1].rsplit(", by ", 1) for o in task.options or []]
        right = [LETTERS[i] for i, (pair, cls) in enumerate(opts)
                 if key in made(monomers_in(pair), cls.removesuffix(" polymerization"))]
        assert right == [task.gold.choice]
    else:
        pair, cls = re.search(r"route (.+) by (\w+) polymerization give", task.question).groups()
        assert (key in made(monomers_in(pair), cls)) == task.gold.yes
        assert task.sub_questions[0].gold.yes == (key in made(monomers_in(pair), pclass))
        assert task.sub_questions[1].gold.yes == (cls == pclass)


@pytest.fixture(scope="module")
def small(small_kb, small_kb_config) -> tuple[KBView, TemplateContext, dict[str, list[Task]]]:
    ctx = TemplateContext(Pools.load(small_kb_config.kb_dir, "train"))
    return KBView(small_kb_config.kb_dir), ctx, {t: run_job(ctx, t, 12, seed=0)["emitted"] for t in TEMPLATES}


@pytest.fixture(scope="module")
def full() -> tuple[KBView, TemplateContext, dict[str, list[Task]]]:
    if not (FULL_KB / "current" / "polybench.duckdb").exists():
        pytest.skip("the full KB is not built")
    ctx = TemplateContext(Pools.load(FULL_KB, "test"))
    return KBView(FULL_KB), ctx, {t: run_job(ctx, t, 8, seed=1)["emitted"] for t in TEMPLATES}


@pytest.mark.parametrize("template", TEMPLATES)
def test_small_kb_golds_are_confirmed_by_the_tools(small, template: str) -> None:
    view, _, tasks = small
    assert tasks[template], f"{template} made no task on the small KB"
    for task in tasks[template]:
        confirm(view, task)


@pytest.mark.parametrize("template", TEMPLATES)
def test_full_kb_golds_are_confirmed_by_the_tools(full, template: str) -> None:
    view, _, tasks = full
    assert tasks[template]
    for task in tasks[template]:
        confirm(view, task, stored_groups=True)  # the full KB may predate the current group rules


@pytest.mark.parametrize("template", TEMPLATES)
def test_tasks_validate_and_compose(small, template: str) -> None:
    _, ctx, tasks = small
    chosen = get_template(template)
    for task in tasks[template]:
        assert task_problem(chosen, ctx, task) is None
        if task.difficulty >= 3:
            assert answers_match(task.gold, chosen.compose_from_subs(task))


def test_design_tasks_have_2_to_4_constraints_with_a_range_and_checks(small) -> None:
    for task in small[2]["design_polymer"]:
        assert 2 <= len(task.constraints) <= 4 and task.difficulty == (4 if len(task.constraints) <= 3 else 5)
        assert any(c.type == "property_range" and c.kind for c in task.constraints)
        assert [s.skill for s in task.sub_questions] == ["check-constraint"] * len(task.constraints) + ["compose"]


def test_feasibility_golds_are_both_yes_and_no(small) -> None:
    assert {t.gold.yes for t in small[2]["route_feasibility"]} == {True, False}


def test_design_answers_are_checked(small) -> None:
    view, ctx, tasks = small
    task = tasks["design_polymer"][0]
    gold = task.gold.polymer
    assert check_design_answer(ctx.pools, task, gold) == (True, [])
    assert check_design_answer(view, task, gold) == (True, [])
    other_writing = Chem.MolToSmiles(Chem.MolFromSmiles(gold), doRandom=True, canonical=False)
    assert check_design_answer(ctx.pools, task, other_writing) == (True, [])
    ok, reasons = check_design_answer(ctx.pools, task, NOT_IN_KB)
    assert not ok and any("cannot be verified" in r for r in reasons)
    ok, reasons = check_design_answer(ctx.pools, task, "*CC(*")
    assert not ok and reasons[0].startswith("invalid polymer")


def test_a_kb_polymer_outside_the_range_fails_with_its_value(small) -> None:
    _, ctx, tasks = small
    index = design_index(ctx.pools)
    task = next(t for t in tasks["design_polymer"] if t.constraints[0].type == "property_range")
    c = task.constraints[0]
    outside = next(p for p, values in index.values.items()
                   if (c.property, c.kind) in values and not in_range(c, values[(c.property, c.kind)]))
    key = ctx.pools.polymers.loc[outside, "key"]
    ok, reasons = check_design_answer(ctx.pools, task, key)
    assert not ok and any(c.property in r and "outside" in r for r in reasons)


def test_group_and_class_constraints_are_checked(small) -> None:
    _, ctx, tasks = small
    task = tasks["design_polymer"][0].model_copy(update={"constraints": [
        Constraint(type="require_group", group="amide"), Constraint(type="forbid_group", group="phenyl"),
        Constraint(type="polymer_class", value="polyamide")]})
    assert check_design_answer(ctx.pools, task, "*CCCCCC(=O)N*") == (True, [])  # nylon 6, in the KB or not
    ok, reasons = check_design_answer(ctx.pools, task, "*CC(*)c1ccccc1")  # polystyrene
    assert not ok and len(reasons) == 3


@pytest.mark.parametrize("template", ["route_for_polymer", "route_feasibility"])
def test_the_tool_check_fails_a_wrong_gold(small, template: str) -> None:
    view, _, tasks = small
    task = tasks[template][0]
    gold = (task.gold.model_copy(update={"choice": LETTERS[(LETTERS.index(task.gold.choice) + 1) % 4]})
            if task.gold.type == "choice" else task.gold.model_copy(update={"yes": not task.gold.yes}))
    with pytest.raises(AssertionError):
        confirm(view, task.model_copy(update={"gold": gold}))


def test_same_seed_same_tasks(small) -> None:
    _, ctx, _ = small
    for template in TEMPLATES:
        runs = [[t.model_dump() for t in run_job(ctx, template, 6, seed=3)["emitted"]] for _ in range(2)]
        assert runs[0] == runs[1] and runs[0]
