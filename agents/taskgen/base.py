"""What a task template is: sample polymers from one split's pools, compose a task with its gold, check it.

A template never reads outside its split's `Pools`; the graph (agents.graph_taskgen) drives it:
sample -> compose (question + gold from KB values / tools) -> validate (generic + template check) -> emit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from agents.schema import Answer, Category, PolymerRef, SubQuestion, Task, TaskParams
from agents.taskgen.pools import Pools
from kb.assemble import polymer_id_of

GENERATOR = "polybench.taskgen"
LETTERS = "ABCDEFGH"


@dataclass(frozen=True)
class Rejected:
    """Why a draw did not become a task (counted by reason)."""

    reason: str


@dataclass
class Draw:
    """What a template sampled: polymer ids and any parameters, before the question is written."""

    polymer_ids: list[int]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TemplateContext:
    """What a template may use: its split's pools (and nothing from other splits)."""

    pools: Pools

    @property
    def split(self) -> str:
        return self.pools.split


class Template(Protocol):
    """A task template; `name`, `category` and `version` identify the tasks it makes."""

    name: str
    category: Category
    version: str

    def sample(self, ctx: TemplateContext, rng: np.random.Generator) -> Draw | Rejected: ...

    def compose(self, ctx: TemplateContext, draw: Draw) -> Task | Rejected: ...

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        """A template-specific problem with a composed task (e.g. a distractor that is also right), or None."""
        ...

    def compose_from_subs(self, task: Task) -> Answer | None:
        """The main answer recomputed from the sub-question golds (None when the task has no subs)."""
        ...


class TemplateDefaults:
    """Version 1, no template-specific check and no composition from sub-questions; a category's base
    class sets `category` and overrides what its templates do differently."""

    version = "1"

    def check(self, ctx: TemplateContext, task: Task) -> str | None:
        return None

    def compose_from_subs(self, task: Task) -> Answer | None:
        return None


def task_id(template: str, split: str, question: str, gold: Answer) -> str:
    """A stable id: the same question and gold get the same id in every run."""
    digest = hashlib.sha1(f"{template}|{split}|{question}|{gold.model_dump_json()}".encode()).hexdigest()[:12]
    return f"{template}-{split}-{digest}"


def make_task(template: Template, ctx: TemplateContext, *, difficulty: int, question: str, gold: Answer,
              options: list[str] | None = None, sub_questions: list[SubQuestion] | None = None,
              composition: str | None = None, polymer_ids: list[int] | None = None,
              source_ids: list[str] | None = None, constraints: list | None = None,
              params: TaskParams | None = None) -> Task:
    """A Task with the bookkeeping fields filled the same way for every template.

    `polymer_ids` are stored sorted: their order must not reveal the right option (the question's order
    is in `params.polymers`).
    """
    return Task(
        id=task_id(template.name, ctx.split, question, gold), split=ctx.split,  # type: ignore[arg-type]
        category=template.category, template=template.name, difficulty=difficulty, question=question,
        answer_type=gold.type, gold=gold, options=options, sub_questions=sub_questions or [],
        composition=composition, polymer_ids=sorted({int(p) for p in (polymer_ids or [])}),
        source_ids=sorted(set(source_ids or [])), constraints=constraints or [], params=params or TaskParams(),
        generator=f"{GENERATOR}/{template.name}", generator_version=template.version,
    )


def polymer_refs(pools: Pools, polymer_ids: list[int], labels: list[str]) -> list[PolymerRef]:
    """The polymers as the question shows them: label, repeat unit (KB key) and the name shown, if any."""
    return [PolymerRef(label=label, psmiles=pools.key_of(pid), name=pools.name_of(pid))
            for label, pid in zip(labels, polymer_ids, strict=True)]


def labelled_ids(task: Task) -> dict[str, int]:
    """Label -> KB polymer id of the polymers a task's question shows (ids are hashes of the keys)."""
    return {ref.label: polymer_id_of(ref.psmiles) for ref in task.params.polymers}


def ids_in_question_order(task: Task) -> list[int]:
    """The KB ids of the polymers the question shows, in the question's order."""
    return [polymer_id_of(ref.psmiles) for ref in task.params.polymers]


def lettered(options: list[str]) -> list[str]:
    """['x', 'y'] -> ['A) x', 'B) y']."""
    return [f"{LETTERS[i]}) {text}" for i, text in enumerate(options)]


def shuffled_choice(rng: np.random.Generator, correct: str, distractors: list[str]) -> tuple[list[str], str]:
    """Options with the correct one at a random position; returns (lettered options, correct letter)."""
    options = [correct, *distractors]
    order = rng.permutation(len(options))
    ordered = [options[i] for i in order]
    return lettered(ordered), LETTERS[int(np.where(order == 0)[0][0])]


def option_texts(task: Task) -> list[str]:
    """The options' texts without their letters."""
    return [o.split(") ", 1)[1] for o in task.options or []]


def one_correct(task: Task, correct: Callable[[str], bool]) -> str | None:
    """None when exactly one option is correct and it is the gold letter, else the problem."""
    hits = [LETTERS[i] for i, text in enumerate(option_texts(task)) if correct(text)]
    return None if hits == [task.gold.choice] else f"correct options {hits} != gold {task.gold.choice}"
