"""The deterministic reasoner policy: `reasoner_step(task, done, tools) -> Step | Final`.

One plan per benchmark template (a module per category: structural, conceptual, properties, advanced,
design), each written from the task's params / options / constraints / sub-question ids, never its gold.
A step carries its skill, the sub-question it answers (with sub_answer on closing steps) and usually a
tool call for the graph (agents.solver.graph) to execute; the graph appends the executed step to `done`
and asks again. Facts in the steps come from tool outputs (or the question itself); numbers are written
at 4 significant digits so the verifier (agents.solver.verify) can find each one again.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.schema import Step, Task
from agents.solver.reasoner import advanced, conceptual, design, properties, structural
from agents.solver.reasoner.core import Final, Observation, PlanFn, ReasonerTools, replay

PLANS: dict[str, PlanFn] = {**structural.PLANS, **conceptual.PLANS, **properties.PLANS, **advanced.PLANS,
                            **design.PLANS}


def reasoner_step(task: Task, done: Sequence[Step], tools: ReasonerTools) -> Step | Final:
    """The next step of the reasoner on a task (given the steps executed so far), or its Final."""
    plan = PLANS.get(task.template)
    if plan is None:
        return Final(answer=None, note=f"the reasoner has no plan for template {task.template!r}")
    return replay(plan(task, tools), done)


__all__ = ["PLANS", "Final", "Observation", "ReasonerTools", "reasoner_step"]
