"""Structural templates: golds confirmed by the structure tools on the small real KB."""

import numpy as np
import pytest

from agents.graph_taskgen import run_job
from agents.taskgen.base import TemplateContext, ids_in_question_order
from agents.taskgen.pools import Pools
from tools.kb_view import KBView
from tools.structure import DescribeArgs, ValidateArgs, describe_polymer, validate_polymer

NAMES = ["linkage_present", "aromatic_ring_count", "repeat_unit_weight", "backbone_atoms", "more_aromatic_rings",
         "valid_repeat_unit"]


@pytest.fixture(scope="module")
def made(small_kb, small_kb_config):
    ctx = TemplateContext(Pools.load(small_kb_config.kb_dir, "train"))
    view = KBView(small_kb_config.kb_dir)
    return view, {name: run_job(ctx, name, 25, seed=1)["emitted"] for name in NAMES}


def _describe(view, task, i=0):
    """The structure tool's description of the i-th polymer the question shows (as its KB record says)."""
    pid = ids_in_question_order(task)[i]
    key = view.connect().execute("SELECT key FROM polymers WHERE polymer_id = ?", [pid]).fetchone()[0]
    assert key == task.params.polymers[i].psmiles and key in task.question
    return describe_polymer(view, DescribeArgs(polymer=key))


def test_every_template_makes_tasks(made):
    _, tasks = made
    for name in NAMES:
        assert len(tasks[name]) >= 10, name


def test_golds_match_the_structure_tools(made):
    view, tasks = made
    for task in tasks["aromatic_ring_count"]:
        assert _describe(view, task).features["aromatic_rings"] * task.params.repeat_units == task.gold.number
        assert task.gold.number > 0  # an aliphatic unit would make "0" a constant that always passes
    for task in tasks["repeat_unit_weight"]:
        assert abs(_describe(view, task).features["mw"] - task.gold.number) <= 0.01
    for task in tasks["backbone_atoms"]:
        assert _describe(view, task).features["backbone_atoms"] == task.gold.number
    for task in tasks["more_aromatic_rings"]:
        a, b = (_describe(view, task, i).features["aromatic_rings"] for i in (0, 1))
        assert task.gold.yes == (a > b)
    for task in tasks["linkage_present"]:
        groups = {g.replace("_", " ") for g in _describe(view, task).groups}
        present = [o for o in task.options if o.split(") ", 1)[1] in groups]
        assert len(present) == 1 and present[0].startswith(task.gold.choice + ")")


def test_validity_gold_matches_the_validate_tool(made):
    view, tasks = made
    answers = set()
    for task in tasks["valid_repeat_unit"]:
        text = task.question.split("`")[1]
        assert text == task.params.shown_smiles
        result = validate_polymer(view, ValidateArgs(polymer=text))
        assert task.gold.yes == (result.valid and result.status == "linear"), (text, result)
        answers.add(task.gold.yes)
    assert answers == {True, False}


def test_deterministic_for_a_seed(small_kb_config):
    ctx = TemplateContext(Pools.load(small_kb_config.kb_dir, "dev"))
    first = [t.id for t in run_job(ctx, "linkage_present", 10, seed=5)["emitted"]]
    second = [t.id for t in run_job(ctx, "linkage_present", 10, seed=5)["emitted"]]
    other = [t.id for t in run_job(ctx, "linkage_present", 10, seed=6)["emitted"]]
    assert first == second and first != other and np.unique(first).size == len(first)
