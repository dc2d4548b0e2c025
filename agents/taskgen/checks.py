"""Generic validation of a composed task: answerable, unambiguous, split-isolated, sub-questions compose."""

from __future__ import annotations

from agents.answers import answers_match
from agents.schema import Task
from agents.taskgen.base import LETTERS, Template, TemplateContext


def task_problem(template: Template, ctx: TemplateContext, task: Task) -> str | None:
    """The first reason this task must not be emitted, or None when it is fine."""
    if not task.question.strip():
        return "empty question"
    if task.split != ctx.split:
        return "task split differs from its pool's split"
    missing = [p for p in task.polymer_ids if p not in ctx.pools.polymers.index]
    if missing:
        return "uses a polymer outside its split"
    if task.answer_type == "choice":
        texts = [o.split(") ", 1)[-1] for o in task.options or []]
        if len(set(texts)) != len(texts):
            return "duplicate options"
        if task.gold.choice not in LETTERS[: len(texts)]:
            return "gold letter is not an option"
    if task.sub_questions:
        recomposed = template.compose_from_subs(task)
        if recomposed is None or not answers_match(task.gold, recomposed):
            return "sub-question golds do not compose to the gold"
    return template.check(ctx, task)
