"""Every template's golds re-audited on a real sample by agents.taskgen.audit, which recomputes them with the
tools, RDKit and SMiPoly's reactions and never calls template code; the audit itself catches wrong golds."""

from __future__ import annotations

import pytest

from agents.graph_taskgen import run_job
from agents.schema import Answer, Task
from agents.taskgen.audit import CHECKS, audit_task, audit_tasks, backbone_count
from agents.taskgen.base import TemplateContext
from agents.taskgen.pools import Pools
from agents.taskgen.registry import load_templates
from tools.kb_view import KBView

PER_TEMPLATE = 6


@pytest.fixture(scope="module")
def sample(small_kb, small_kb_config) -> list[Task]:
    tasks = []
    for split in ("train", "test"):
        ctx = TemplateContext(Pools.load(small_kb_config.kb_dir, split))
        for name in sorted(load_templates()):
            tasks += run_job(ctx, name, PER_TEMPLATE, seed=11)["emitted"]
    return tasks


def test_every_template_has_an_independent_audit(sample) -> None:
    assert set(CHECKS) == set(load_templates())
    assert {t.template for t in sample} == set(load_templates())


def test_no_wrong_gold_in_a_real_sample(view: KBView, sample) -> None:
    report = audit_tasks(view, sample)
    wrong = {name: row["examples"] for name, row in report.items() if row["wrong"]}
    assert not wrong, wrong
    assert sum(row["checked"] for row in report.values()) == len(sample)


def _corrupted(task: Task) -> Task | None:
    """The task with a gold that must be wrong (another letter, the other yes/no, a number off by 3)."""
    gold = task.gold
    if gold.type == "choice":
        letters = [o.split(")")[0] for o in task.options]
        new = gold.model_copy(update={"choice": letters[(letters.index(gold.choice) + 1) % len(letters)]})
    elif gold.type == "yes_no":
        new = gold.model_copy(update={"yes": not gold.yes})
    elif gold.type == "number":
        new = gold.model_copy(update={"number": gold.number + 3 * max(abs(gold.number), 1.0)})
    elif gold.type == "set":
        labels = [r.label for r in task.params.polymers]
        new = Answer(type="set", items=[x for x in labels if x not in (gold.items or [])])
    elif gold.type == "ranking":
        new = gold.model_copy(update={"ranking": gold.ranking[::-1]})
    else:
        return None
    return task.model_copy(update={"gold": new})


def test_the_audit_catches_a_wrong_gold_in_every_template(view: KBView, sample) -> None:
    caught = {}
    for task in sample:
        bad = _corrupted(task)
        if bad is not None and task.template not in caught:
            caught[task.template] = audit_task(view, bad) is not None
    assert caught and all(caught.values()), caught


def test_the_known_defects_are_recomputed_right() -> None:
    assert backbone_count("*OCCOC(=O)c1ccc(C(*)=O)cc1") == 12   # PET: the two C=O oxygens are pendant
    assert backbone_count("*Oc1ccc(C2(c3ccc(O*)cc3)c3ccccc3-c3ccccc32)cc1") == 15  # the cardo fluorene is not
    from agents.taskgen.audit import _made

    phthalic, diamine = "OC(=O)c1ccccc1C(=O)O", "NCCCCCCN"
    assert not _made((phthalic, diamine), "polyamide")          # an ortho diacid closes an imide instead
    assert _made(("OC(=O)c1ccc(C(=O)O)cc1", diamine), "polyamide")
