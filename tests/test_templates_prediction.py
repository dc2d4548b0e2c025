"""Property-prediction templates on the small real KB: golds equal the tools' medians, one right option,
sub-questions compose, the template check catches a wrong gold, and a seed gives the same tasks."""

from __future__ import annotations

import pytest

from agents.answers import answers_match, numbers_match
from agents.graph_taskgen import run_job
from agents.schema import Answer, Task
from agents.taskgen.base import LETTERS, TemplateContext
from agents.taskgen.checks import task_problem
from agents.taskgen.lookup import EXCLUDED_PROPERTIES
from agents.taskgen.pools import Pools
from agents.taskgen.registry import get_template
from agents.taskgen.tolerances import tolerance_for
from agents.taskgen.wording import parse_phrase
from kb.properties import get_property
from tools.kb_view import KBView
from tools.lookup import PropertyValuesArgs, get_property_values
from tools.structure import DescribeArgs, describe_polymer

TEMPLATES = ["property_value", "property_value_choice", "property_value_stepwise"]
SPLITS = ["train", "dev"]


@pytest.fixture(scope="module")
def contexts(small_kb, small_kb_config) -> dict[str, TemplateContext]:
    return {s: TemplateContext(Pools.load(small_kb_config.kb_dir, s)) for s in SPLITS}



@pytest.fixture(scope="module")
def tasks(contexts) -> dict[tuple[str, str], list[Task]]:
    return {(name, s): run_job(contexts[s], name, 25, seed=0)["emitted"] for name in TEMPLATES for s in SPLITS}


def _tool_median(view: KBView, task: Task) -> float:
    prop, kind = parse_phrase(task.question)
    values = get_property_values(view, PropertyValuesArgs(polymer=task.polymer_ids[0], property=prop, kind=kind))
    assert [s.kind for s in values.summary] == [kind]
    return values.summary[0].median


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_makes_tasks_in_each_split(tasks, contexts, name):
    for split in SPLITS:
        made = tasks[(name, split)]
        assert made, f"{name} made no task in {split}"
        for task in made:
            assert task.split == split and task.category == "property_prediction"
            assert all(p in contexts[split].pools.polymers.index for p in task.polymer_ids)
            prop, kind = parse_phrase(task.question)
            assert prop not in EXCLUDED_PROPERTIES and kind in {"experimental", "md_simulated", "dft"}
            assert task.source_ids


def test_numeric_golds_are_the_tools_medians(tasks, view):
    for name in ("property_value", "property_value_stepwise"):
        for split in SPLITS:
            for task in tasks[(name, split)]:
                prop, _ = parse_phrase(task.question)
                median = _tool_median(view, task)
                assert task.gold.number == pytest.approx(median, rel=1e-5)
                assert task.gold.unit == get_property(prop).unit
                assert (task.gold.log_tolerance is not None) == get_property(prop).log_scale


def test_choice_tasks_have_exactly_one_option_matching_the_measured_value(tasks, view):
    for split in SPLITS:
        for task in tasks[("property_value_choice", split)]:
            assert task.difficulty == 2 and len(task.options) == 4
            prop, _ = parse_phrase(task.question)
            median = _tool_median(view, task)
            reference = Answer(type="number", number=median, **tolerance_for(prop, median))
            shown = [float(o.split(") ", 1)[1].split(" ")[0]) for o in task.options]
            right = [LETTERS[i] for i, value in enumerate(shown) if numbers_match(reference, value)]
            assert right == [task.gold.choice]
            for i, a in enumerate(shown):  # distractors are far apart too: no option within tolerance of another
                near = Answer(type="number", number=a, **tolerance_for(prop, a))
                assert not any(numbers_match(near, b) for b in shown[i + 1:])


def test_stepwise_sub_golds_match_the_structure_tool_and_compose(tasks, view):
    template = get_template("property_value_stepwise")
    for split in SPLITS:
        for task in tasks[("property_value_stepwise", split)]:
            assert task.difficulty == 3
            groups, rings, estimate = task.sub_questions
            described = describe_polymer(view, DescribeArgs(polymer=task.polymer_ids[0]))
            assert groups.skill == "identify-linkage" and groups.gold.items == sorted(described.groups)
            assert rings.skill == "count-features" and rings.gold.number == described.features["aromatic_rings"]
            assert estimate.skill == "estimate-property" and estimate.depends_on == ["groups", "rings"]
            assert answers_match(task.gold, template.compose_from_subs(task))


def test_check_rejects_a_wrong_choice_gold(tasks, contexts):
    template = get_template("property_value_choice")
    task = tasks[("property_value_choice", "train")][0]
    ctx = contexts["train"]
    assert task_problem(template, ctx, task) is None
    wrong = next(letter for letter in "ABCD" if letter != task.gold.choice)
    broken = task.model_copy(update={"gold": task.gold.model_copy(update={"choice": wrong})})
    assert template.check(ctx, broken) is not None


def test_same_seed_same_tasks(contexts):
    for name in TEMPLATES:
        first = [t.model_dump() for t in run_job(contexts["dev"], name, 15, seed=7)["emitted"]]
        second = [t.model_dump() for t in run_job(contexts["dev"], name, 15, seed=7)["emitted"]]
        assert first and first == second
        other = [t.model_dump() for t in run_job(contexts["dev"], name, 15, seed=8)["emitted"]]
        assert other != first
