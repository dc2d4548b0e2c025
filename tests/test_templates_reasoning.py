"""agents.taskgen.templates.reasoning on the small real KB: golds confirmed by the tools, one correct option,
sub-questions that compose to the gold, determinism for a seed."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from agents.answers import answers_match
from agents.graph_taskgen import run_job
from agents.schema import Answer, Task
from agents.taskgen.base import LETTERS, TemplateContext, ids_in_question_order, labelled_ids
from agents.taskgen.checks import task_problem
from agents.taskgen.pools import Pools
from agents.taskgen.registry import get_template
from agents.taskgen.templates.reasoning import structure_change
from agents.taskgen.templates.reasoning.common import clear_of, round_between, threshold_cuts
from agents.taskgen.tolerances import GAP_FACTOR, LOG_TOLERANCE, clearly_different, tolerance_for
from agents.taskgen.wording import KIND_WORDS
from kb.features import GROUP_COLUMNS
from kb.properties import get_property
from kb.units import convert
from tools.kb_view import KBView
from tools.lookup import PropertyValuesArgs, get_property_values
from tools.structure import CompareArgs, DescribeArgs, compare_polymers, describe_polymer

TEMPLATES = ["constraint_filter", "gas_selectivity_tradeoff", "structure_change_effect", "unit_threshold"]
WANT = 12



@pytest.fixture(scope="module")
def ctx(small_kb, small_kb_config) -> TemplateContext:
    return TemplateContext(Pools.load(small_kb_config.kb_dir, "train"))


@pytest.fixture(scope="module")
def tasks(ctx) -> dict[str, list[Task]]:
    return {name: run_job(ctx, name, WANT, seed=0)["emitted"] for name in TEMPLATES}


def _median(view: KBView, pid: int, prop: str, kind: str, unit: str | None = None) -> float:
    """The tool's median of one kind of a polymer's values (in `unit` when given)."""
    found = get_property_values(view, PropertyValuesArgs(polymer=pid, property=prop, kind=kind, unit=unit))
    (summary,) = found.summary
    return summary.median


def _kind_of(text: str) -> str:
    return next(kind for kind, words in KIND_WORDS.items() if f"{words} " in text)


def _sub(task: Task, sub_id: str) -> Answer:
    return next(s.gold for s in task.sub_questions if s.id == sub_id)


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_makes_valid_tasks(tasks, ctx, name):
    made = tasks[name]
    assert made, f"{name} made no task on the small KB"
    template = get_template(name)
    for task in made:
        assert task.category == "advanced_reasoning" and task.difficulty >= 3 and task.sub_questions
        assert task.split == "train" and set(task.polymer_ids) <= set(ctx.pools.polymers.index)
        assert task_problem(template, ctx, task) is None
        assert answers_match(task.gold, template.compose_from_subs(task))
        assert task.source_ids
        ids = {s.id for s in task.sub_questions}
        assert all(set(s.depends_on) <= ids for s in task.sub_questions)


def test_constraint_filter_golds_match_the_tools(tasks, view):
    assert tasks["constraint_filter"]
    for task in tasks["constraint_filter"]:
        labels = []
        for n, pid in enumerate(ids_in_question_order(task), 1):
            ok = True
            for c in task.constraints:
                if c.type == "property_range":
                    value = _median(view, pid, c.property, c.kind)
                    for bound in (c.min, c.max):  # every value clear of every bound by one tolerance
                        if bound is not None and get_property(c.property).log_scale:
                            assert abs(math.log10(value / bound)) >= LOG_TOLERANCE
                        elif bound is not None:
                            assert abs(value - bound) >= tolerance_for(c.property, value)["tolerance"]
                    ok &= (c.min is None or value >= c.min) and (c.max is None or value <= c.max)
                else:
                    present = c.group in describe_polymer(view, DescribeArgs(polymer=pid)).groups
                    ok &= present == (c.type == "require_group")
            if ok:
                labels.append(f"P{n}")
        assert 0 < len(labels) < len(task.polymer_ids)
        assert set(task.gold.items) == set(labels)


def test_gas_tradeoff_has_exactly_one_right_option(tasks, view):
    assert tasks["gas_selectivity_tradeoff"]
    for task in tasks["gas_selectivity_tradeoff"]:
        c = task.constraints[0]
        other = next(re.search(r"\[(perm_\w+)\] of option A", s.question).group(1) for s in task.sub_questions
                     if s.id.startswith("A.perm_") and s.id != f"A.{c.property}")
        assert [f"perm_{g.lower()}" for g in task.params.gases] == [c.property, other]
        pa = [_median(view, pid, c.property, c.kind) for pid in ids_in_question_order(task)]
        pb = [_median(view, pid, other, c.kind) for pid in ids_in_question_order(task)]
        assert all(abs(math.log10(p / c.min)) >= LOG_TOLERANCE for p in pa)
        above = [i for i, p in enumerate(pa) if p > c.min]
        assert 2 <= len(above) < 4
        selectivity = {i: math.log10(pa[i] / pb[i]) for i in above}
        best = max(above, key=selectivity.get)
        assert task.gold.choice == LETTERS[best]
        wrong = [i for i in range(4) if i != best]  # each distractor is too slow or clearly less selective
        assert all(i not in above or selectivity[best] - selectivity[i] >= GAP_FACTOR * LOG_TOLERANCE for i in wrong)
        assert len(task.options) == 4


def _tool_change(view: KBView, a: int, b: int) -> list[str]:
    """The change A -> B as the tools see it: group counts gained (phenyl with its ring) and CH2 units."""
    comparison = compare_polymers(view, CompareArgs(polymer_a=a, polymer_b=b))
    assert not comparison.groups_lost
    gained = dict(comparison.groups_gained)
    if gained.get("phenyl") and gained.get("aromatic_ring") == gained["phenyl"]:
        del gained["aromatic_ring"]
    rest = Counter(structure_change._elements(comparison.formula_b))
    rest.subtract(structure_change._elements(comparison.formula_a))
    labels = []
    for group, k in gained.items():
        labels.append(f"{group} +{k}")
        rest.subtract({el: n * k for el, n in structure_change.CLEAN_CHANGES[group].items()})
    rest = {el: n for el, n in rest.items() if n}
    assert not rest or (set(rest) == {"C", "H"} and rest["H"] == 2 * rest["C"])
    return labels + ([f"CH2 {rest['C']:+d}"] if rest else [])


def test_structure_change_golds_match_the_tools(tasks, view):
    assert tasks["structure_change_effect"]
    for task in tasks["structure_change_effect"]:
        a, b = labelled_ids(task)["A"], labelled_ids(task)["B"]
        assert _tool_change(view, a, b) == _sub(task, "change").items
        value_q = next(s.question for s in task.sub_questions if s.id == "value_a")
        prop, kind = re.search(r"\[(\w+)\] of A\b", value_q).group(1), _kind_of(value_q)
        va, vb = _median(view, a, prop, kind), _median(view, b, prop, kind)
        assert clearly_different(prop, va, vb)  # so exactly one of increases / decreases is right
        texts = [o.split(") ", 1)[1] for o in task.options]
        assert len(texts) == 2 and texts[LETTERS.index(task.gold.choice)].startswith(
            "It increases" if vb > va else "It decreases")


def test_unit_threshold_golds_match_the_tools(tasks, view):
    assert tasks["unit_threshold"]
    for task in tasks["unit_threshold"]:
        c, pid = task.constraints[0], labelled_ids(task)["polymer"]
        canonical = _median(view, pid, c.property, c.kind)
        converted = convert(canonical, get_property(c.property).unit, c.unit)
        assert answers_match(_sub(task, "convert"), Answer(type="number", number=converted))
        if abs(converted) > 1e-6:  # the tool rounds converted values to 10 decimals (tiny SI values become 0)
            assert _median(view, pid, c.property, c.kind, unit=c.unit) == pytest.approx(converted, rel=1e-6)
        threshold = convert(c.min if c.min is not None else c.max, c.unit, get_property(c.property).unit)
        assert clear_of(c.property, canonical, threshold)
        assert task.gold.yes == (converted > c.min if c.min is not None else converted < c.max)


def test_composition_follows_the_sub_question_golds(tasks):
    """Flipping one deciding sub-gold changes the composed answer (the composition reads the subs)."""
    task = tasks["unit_threshold"][0]
    flipped = task.model_copy(deep=True)
    c = flipped.constraints[0]
    bound = c.min if c.min is not None else c.max
    flipped.sub_questions[1].gold.number = bound + (-1 if task.gold.yes == (c.min is not None) else 1) * (abs(bound) + 1)
    template = get_template("unit_threshold")
    assert template.compose_from_subs(flipped).yes != task.gold.yes
    for task in tasks["constraint_filter"]:  # every task: the outcome must not depend on which one is drawn
        label = task.gold.items[0]             # a polymer in the answer: all of its checks are yes
        flipped = task.model_copy(deep=True)
        check = next(s for s in flipped.sub_questions if s.id.startswith(f"{label}.") and s.id.endswith(".check"))
        assert check.gold.yes
        check.gold.yes = False
        assert set(get_template("constraint_filter").compose_from_subs(flipped).items) == set(task.gold.items) - {label}


@pytest.mark.parametrize("name", TEMPLATES)
def test_same_seed_same_tasks(ctx, tasks, name):
    again = run_job(ctx, name, WANT, seed=0)["emitted"]
    assert [t.model_dump() for t in again] == [t.model_dump() for t in tasks[name]]


def test_other_splits_stay_in_their_split(small_kb_config):
    for split in ("dev", "test"):
        ctx = TemplateContext(Pools.load(small_kb_config.kb_dir, split))
        for name in TEMPLATES:
            for task in run_job(ctx, name, 4, seed=1)["emitted"]:
                assert task.split == split and set(task.polymer_ids) <= set(ctx.pools.polymers.index)


def test_round_thresholds_and_changes():
    assert round_between(412.3, 437.9) == 420.0
    assert round_between(-3.0, 2.0) == 0.0
    assert round_between(0.0123, 0.0127) == 0.0125
    assert round_between(5.0, 5.0) is None
    assert threshold_cuts("tg", [300.0, 310.0]) == []            # 10 K apart: no threshold clears both
    assert threshold_cuts("tg", [300.0, 400.0]) == [350.0]
    columns = list(GROUP_COLUMNS.values())
    delta = [0] * len(columns)
    assert structure_change._change(delta, Counter(C=2, H=4), Counter(C=4, H=8), columns) == ("CH2 +2",)
    delta[columns.index("n_f")] = 3
    assert structure_change._change(delta, Counter(C=2, H=4), Counter(C=3, H=3, F=3), columns) == ("fluoro +3", "CH2 +1")
    assert structure_change._change(delta, Counter(C=2, H=4), Counter(C=3, H=2, F=3, O=1), columns) is None
