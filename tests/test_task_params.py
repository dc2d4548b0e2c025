"""Task.params on the small real KB: every template fills what its question states, and nothing of the answer."""

from __future__ import annotations

import json

import pytest

from agents.graph_taskgen import run_job
from agents.schema import Task
from agents.taskgen.base import LETTERS, TemplateContext, ids_in_question_order
from agents.taskgen.pools import Pools
from agents.taskgen.registry import load_templates
from kb.properties import gas_of

# the params each template must fill (non-empty); everything the question states beyond these is optional
REQUIRED: dict[str, set[str]] = {
    "linkage_present": {"polymers", "asked"}, "aromatic_ring_count": {"polymers", "asked", "repeat_units"},
    "repeat_unit_weight": {"polymers", "asked", "unit"}, "backbone_atoms": {"polymers", "asked"},
    "more_aromatic_rings": {"polymers", "asked"}, "valid_repeat_unit": {"shown_smiles", "asked"},
    "property_value": {"polymers", "property", "kind", "unit", "asked"},
    "property_value_choice": {"polymers", "property", "kind", "unit", "asked"},
    "property_value_stepwise": {"polymers", "property", "kind", "unit", "asked"},
    "pair_higher": {"polymers", "property", "kind", "unit", "direction"},
    "pair_higher_stepwise": {"polymers", "property", "kind", "unit", "direction"},
    "pair_higher_units": {"polymers", "property", "kind", "unit", "direction", "quoted_values"},
    "rank_by_property": {"polymers", "property", "kind", "unit", "order"},
    "polymerization_class": {"monomers", "asked"}, "reaction_linkage": {"monomers", "monomer_roles", "asked"},
    "monomers_for_polymer": {"polymers", "asked"}, "polymer_from_monomers": {"polymers", "monomers", "asked"},
    "property_definition": {"quoted_values", "kind", "unit", "asked"},
    "constraint_filter": {"polymers", "asked"},
    "gas_selectivity_tradeoff": {"polymers", "property", "kind", "unit", "gases", "threshold", "asked"},
    "structure_change_effect": {"polymers", "property", "kind", "unit", "asked"},
    "unit_threshold": {"polymers", "property", "kind", "unit", "threshold", "direction", "asked"},
    "design_polymer": {"asked"}, "route_for_polymer": {"polymers", "asked"},
    "route_feasibility": {"polymers", "monomers", "polymer_class", "asked"},
}


@pytest.fixture(scope="module")
def tasks(small_kb, small_kb_config) -> dict[str, list[Task]]:
    made: dict[str, list[Task]] = {}
    for split in ("train", "test"):
        ctx = TemplateContext(Pools.load(small_kb_config.kb_dir, split))
        for name in load_templates():
            made.setdefault(name, []).extend(run_job(ctx, name, 6, seed=2)["emitted"])
    return made


def _shown(task: Task) -> str:
    return task.question + "\n" + "\n".join(task.options or [])


def test_every_template_is_listed_and_makes_tasks(tasks):
    assert set(REQUIRED) == set(load_templates())
    assert all(tasks[name] for name in REQUIRED), [n for n in REQUIRED if not tasks[n]]


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_params_state_what_the_question_states(tasks, name):
    for task in tasks[name]:
        p = task.params
        filled = {k for k, v in p.model_dump().items() if v not in (None, [], "")}
        assert REQUIRED[name] <= filled, (task.id, REQUIRED[name] - filled)
        shown = _shown(task)
        for ref in p.polymers:
            assert ref.psmiles in shown and (ref.name is None or ref.name in shown), task.id
            assert ref.label in shown or ref.label == "polymer", task.id
        assert task.polymer_ids == sorted(task.polymer_ids)
        assert set(ids_in_question_order(task)) <= set(task.polymer_ids)
        if p.property is not None and task.template != "property_definition":  # its registry name, or a gas
            assert p.property in shown or f"{gas_of(p.property)} permeab" in shown, (task.id, p.property)
        for text in [p.shown_smiles, p.polymer_class, *p.monomers, *p.gases]:
            assert text is None or text in shown, (task.id, text)
        if p.threshold is not None:
            assert f"{p.threshold:g}" in shown
        for quoted in p.quoted_values:
            assert f"{quoted.value:.4g}" in shown and quoted.label in p.model_dump_json()


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_params_give_nothing_of_the_answer(tasks, name):
    for task in tasks[name]:
        dumped = task.params.model_dump_json()
        if task.answer_type == "polymer":
            assert task.gold.polymer not in dumped and not task.params.polymers
        if task.answer_type == "choice":  # the params name every option or none of them
            texts = [o.split(") ", 1)[1] for o in task.options]
            named = [t for t in texts if t in dumped or any(r.psmiles in t for r in task.params.polymers)]
            assert len(named) in (0, len(texts)), (task.id, named)
            if named and task.params.polymers:
                assert [r.label for r in task.params.polymers] == list(LETTERS[: len(texts)])
        if task.answer_type == "number":
            assert all(q.value != task.gold.number for q in task.params.quoted_values)
        for sub in task.sub_questions:  # sub-questions never name a design task's answer
            assert task.answer_type != "polymer" or task.gold.polymer not in sub.question
        json.loads(dumped)
