"""Which tasks an eval run asks: filters, a deterministic stratified sample, and sub-questions as tasks.

`stratified_sample` spreads a sample evenly over categories and, within a category, over templates (the
order inside a template is a hash of the task id, so it does not depend on file order or on a random draw).
`sub_question_tasks` turns every sub-question of a task into a task of its own, asked with the parent's
question as context and the golds of the sub-questions it depends on supplied as known facts.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from agents.schema import Task

SUB_SEPARATOR = "#"   # sub-question task id: <task id>#<sub-question id>


def _rank(seed: int, task_id: str) -> str:
    return hashlib.sha256(f"{seed}:{task_id}".encode()).hexdigest()


def select_tasks(tasks: Iterable[Task], *, split: str | None = None, categories: list[str] | None = None,
                 templates: list[str] | None = None) -> list[Task]:
    """Tasks of one split, of the categories and templates asked (None: all)."""
    return [t for t in tasks if (split is None or t.split == split)
            and (not categories or t.category in categories) and (not templates or t.template in templates)]


def _round_robin(groups: list[list[Task]]) -> list[Task]:
    out, i = [], 0
    while any(i < len(g) for g in groups):
        out += [g[i] for g in groups if i < len(g)]
        i += 1
    return out


def stratified_sample(tasks: list[Task], n: int | None, seed: int = 0) -> list[Task]:
    """`n` tasks spread over categories, then templates, round-robin (all when n is None or larger)."""
    by_category: dict[str, dict[str, list[Task]]] = defaultdict(lambda: defaultdict(list))
    for task in tasks:
        by_category[task.category][task.template].append(task)
    per_category = []
    for category in sorted(by_category):
        templates = by_category[category]
        per_category.append(_round_robin([sorted(templates[name], key=lambda t: _rank(seed, t.id))
                                          for name in sorted(templates)]))
    ordered = _round_robin(per_category)
    return ordered if n is None else ordered[:n]


def sub_question_tasks(task: Task) -> list[Task]:
    """Each sub-question of `task` as a task of its own (gold = the sub-question's gold)."""
    golds = {s.id: s for s in task.sub_questions}
    out = []
    for sub in task.sub_questions:
        if sub.gold.type == "choice" and not task.options:
            continue  # a choice sub-question without options to show cannot be asked on its own
        known = [f"- {golds[d].question} Answer: {golds[d].gold.text()}" for d in sub.depends_on if d in golds]
        parts = [f"Context: {task.question.strip()}"]
        if known:
            parts.append("Known:\n" + "\n".join(known))
        parts.append(f"Question: {sub.question.strip()}")
        out.append(Task(
            id=f"{task.id}{SUB_SEPARATOR}{sub.id}", split=task.split, category=task.category, template=task.template,
            difficulty=1, question="\n\n".join(parts), answer_type=sub.gold.type, gold=sub.gold,
            options=task.options if sub.gold.type == "choice" else None,
            constraints=task.constraints if sub.gold.type == "polymer" else [],
            params=task.params, polymer_ids=task.polymer_ids, source_ids=task.source_ids,
            generator=task.generator, generator_version=task.generator_version))
    return out


def parent_id(task_id: str) -> str:
    """The id of the task a (sub-question) task id belongs to."""
    return task_id.split(SUB_SEPARATOR, 1)[0]
