"""Conceptual-knowledge templates: golds the tools confirm, one right option, sub-question composition, seeds.

Runs on the session's small KB (its SMiPoly rows are all polyolefins) and, when it is built, on the test
split of the full KB, where every polymerization class shows up; forward_polymer (SMiPoly's own reactions)
is the judge of every monomer / class / product statement.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from smipoly_routes import made, monomers_in

from agents.answers import answers_match
from agents.graph_taskgen import run_job
from agents.schema import Task
from agents.taskgen.base import LETTERS, TemplateContext
from agents.taskgen.checks import task_problem
from agents.taskgen.links import LINKAGE_TEXT, link_table
from agents.taskgen.pools import Pools
from agents.taskgen.registry import get_template
from kb.repeat_unit import to_repeat_unit
from tools.kb_view import KBView
from tools.lookup import PolymerRecordArgs, polymer_record
from tools.structure import DescribeArgs, describe_polymer

FULL_KB = Path(__file__).resolve().parents[1] / ".polybench" / "kb"
TEMPLATES = ("polymerization_class", "reaction_linkage", "monomers_for_polymer", "polymer_from_monomers")
LINKAGE_OF_TEXT = {text: name for name, text in LINKAGE_TEXT.items()}


def options(task: Task) -> list[str]:
    return [o.split(") ", 1)[1] for o in task.options or []]


def gold_text(task: Task) -> str:
    return options(task)[LETTERS.index(task.gold.choice)]


def confirm(view: KBView, ctx: TemplateContext, task: Task) -> None:
    """Assert the task's gold (and its distractors' wrongness) with the tools."""
    pid = task.polymer_ids[0] if task.template != "polymer_from_monomers" else None
    if task.template == "polymerization_class":
        key = to_repeat_unit(polymer_record(view, PolymerRecordArgs(polymer=pid)).key).key
        shown = monomers_in(re.search(r"can (?:join|turn) (.+) into (?:one polymer chain|a polymer), by",
                                      task.question).group(1))
        assert [c for c in options(task) if key in made(shown, c)] == [gold_text(task)]
    elif task.template == "reaction_linkage":
        described = describe_polymer(view, DescribeArgs(polymer=pid))
        gold = LINKAGE_OF_TEXT[gold_text(task)]
        if gold == "C-C":
            assert described.polymer_class in ("polyolefin", "polyarylene")
        else:
            assert gold in described.backbone_linkages
        for text in options(task):
            if text != gold_text(task):
                assert described.groups.get(LINKAGE_OF_TEXT[text], 0) == 0
    elif task.template == "monomers_for_polymer":
        record = polymer_record(view, PolymerRecordArgs(polymer=pid))
        pclass = task.sub_questions[1].gold.items[0]
        assert {m.polymer_class for m in record.monomers} == {pclass}
        linkage = task.sub_questions[0].gold.items[0]
        described = describe_polymer(view, DescribeArgs(polymer=pid))
        assert linkage in described.backbone_linkages or (linkage == "C-C" and described.polymer_class == "polyolefin")
        right = [o for o in options(task) if record.key in made(monomers_in(o), pclass)]
        assert right == [gold_text(task)]
    else:  # polymer_from_monomers
        shown = monomers_in(re.search(r"formed when (.+) polymerizes?, by", task.question).group(1))
        products = made(shown, task.sub_questions[0].gold.items[0])
        shown_units = {ctx.pools.display_name(p): ctx.pools.polymers.loc[p, "key"] for p in task.polymer_ids}
        assert [o for o in options(task) if shown_units[o] in products] == [gold_text(task)]


def _pools(kb_dir: Path, split: str) -> TemplateContext:
    return TemplateContext(Pools.load(kb_dir, split))


@pytest.fixture(scope="module")
def small(small_kb, small_kb_config) -> tuple[KBView, TemplateContext, dict[str, list[Task]]]:
    ctx = _pools(small_kb_config.kb_dir, "train")
    return KBView(small_kb_config.kb_dir), ctx, {t: run_job(ctx, t, 8, seed=0)["emitted"] for t in TEMPLATES}


@pytest.fixture(scope="module")
def full() -> tuple[KBView, TemplateContext, dict[str, list[Task]]]:
    """Tasks from the full KB's test split, polyolefins left out (the small KB covers them)."""
    if not (FULL_KB / "current" / "polybench.duckdb").exists():
        pytest.skip("the full KB is not built")
    ctx = _pools(FULL_KB, "test")
    table = link_table(ctx.pools)
    tasks = {t: [task for task in run_job(ctx, t, 30, seed=1)["emitted"]
                 if not task.polymer_ids or table.class_of.get(task.polymer_ids[0]) != "polyolefin"][:6]
             for t in TEMPLATES}
    return KBView(FULL_KB), ctx, tasks


@pytest.mark.parametrize("template", TEMPLATES)
def test_small_kb_tasks_are_confirmed_by_the_tools(small, template: str) -> None:
    view, ctx, tasks = small
    assert tasks[template], f"{template} made no task on the small KB"
    for task in tasks[template]:
        confirm(view, ctx, task)


@pytest.mark.parametrize("template", TEMPLATES)
def test_full_kb_tasks_of_every_class_are_confirmed_by_the_tools(full, template: str) -> None:
    view, ctx, tasks = full
    assert tasks[template]
    for task in tasks[template]:
        confirm(view, ctx, task)


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_tool_check_fails_a_wrong_gold(small, template: str) -> None:
    view, ctx, tasks = small
    task = tasks[template][0]
    wrong = LETTERS[(LETTERS.index(task.gold.choice) + 1) % 4]
    with pytest.raises(AssertionError):
        confirm(view, ctx, task.model_copy(update={"gold": task.gold.model_copy(update={"choice": wrong})}))


def test_full_kb_covers_step_growth_classes(full) -> None:
    _, ctx, tasks = full
    classes = {link_table(ctx.pools).class_of[t.polymer_ids[0]] for t in tasks["polymerization_class"]}
    assert len(classes) >= 2 and "polyolefin" not in classes


@pytest.mark.parametrize("template", TEMPLATES)
def test_tasks_validate_and_compose(small, template: str) -> None:
    _, ctx, tasks = small
    chosen = get_template(template)
    for task in tasks[template]:
        assert task_problem(chosen, ctx, task) is None
        assert len(task.options) == 4 and task.gold.choice in "ABCD"
        if task.difficulty >= 3:
            assert [s.skill for s in task.sub_questions][-1] in ("select-monomers", "parse-structure")
            assert answers_match(task.gold, chosen.compose_from_subs(task))


def test_check_catches_a_second_right_option(small) -> None:
    _, ctx, tasks = small
    task = tasks["polymerization_class"][0]
    wrong = task.model_copy(update={"options": [f"{LETTERS[i]}) {gold_text(task)}" for i in range(4)]})
    assert get_template("polymerization_class").check(ctx, wrong) is not None


def test_property_definitions_apply_the_definition_to_quoted_values(small_kb, small_kb_config, view) -> None:
    from agents.taskgen.lookup import quoted_only
    from agents.taskgen.templates.property_relations import RELATIONS

    made = run_job(_pools(small_kb_config.kb_dir, "train"), "property_definition", 40, seed=0)["emitted"]
    assert len({t.params.asked for t in made}) >= 3
    for task in made:
        assert all(quoted_only(p) for p in task.polymer_ids)  # printed values are never another task's gold
        for q in task.params.quoted_values:  # the printed inputs are the polymer's medians, in their units
            assert f"{q.value:.4g}" in task.question
        assert task.params.asked in RELATIONS and task.answer_type == "number"


def test_same_seed_same_tasks(small) -> None:
    _, ctx, _ = small
    for template in TEMPLATES:
        runs = [[t.model_dump() for t in run_job(ctx, template, 6, seed=3)["emitted"]] for _ in range(2)]
        assert runs[0] == runs[1] and runs[0]
