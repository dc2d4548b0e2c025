"""No question twice: one task per question text in the whole set, and none of dev / test seen in train.

A dev or test question that is word for word a train question (or a design task with the same set of
constraints as a train design task, whose train gold therefore meets it) would let a memorised train
answer score. The first occurrence wins in the order train, dev, test, so train keeps its tasks and the
held-out splits lose the twins; the counts of what was dropped go into the generation report.
"""

from __future__ import annotations

from collections import Counter

from agents.schema import Task

SPLIT_ORDER = {"train": 0, "dev": 1, "test": 2}


def question_key(task: Task) -> str:
    """What makes two tasks the same question: the text (whitespace-normalised, case-folded)."""
    return " ".join(task.question.split()).casefold()


def design_key(task: Task) -> str | None:
    """A design task's constraint set, order-free (None for other templates)."""
    if task.answer_type != "polymer" or not task.constraints:
        return None
    return "|".join(sorted(c.model_dump_json() for c in task.constraints))


def distinct_tasks(tasks: list[Task]) -> tuple[list[Task], Counter]:
    """The tasks without repeated questions (first wins, splits in the order train, dev, test) and why
    the others were dropped; the order of the kept tasks is unchanged."""
    ranked = sorted(range(len(tasks)), key=lambda i: SPLIT_ORDER[tasks[i].split])  # stable within a split
    seen: dict[str, str] = {}
    drop, why = set(), Counter()
    for i in ranked:
        task = tasks[i]
        for key in filter(None, (question_key(task), design_key(task))):
            first = seen.get(key)
            if first is None:
                continue
            drop.add(i)
            why[f"{task.template}: {'same question' if key == question_key(task) else 'same design constraints'}"
                f" as a {first} task"] += 1
            break
        else:
            seen[question_key(task)] = task.split
            if (key := design_key(task)) is not None:
                seen[key] = task.split
    return [t for i, t in enumerate(tasks) if i not in drop], why
