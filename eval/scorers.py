"""Scorers registered by answer type: one prediction -> a Score (outcome, right or not, and the metrics).

    from eval.scorers import score_reading
    score = score_reading(task, read_answer(output, task), design=DesignJudge(kb_dir))

Every comparison goes through agents.answers (numbers after converting the unit written, rankings by
their highest-first order, polymers by canonical repeat-unit key), the one scoring path of the project.
Unparseable outputs and refusals get a Score too (outcome 'unparseable' / 'refused', wrong): they are
counted, never dropped. A design task (a polymer answer under constraints) is judged by eval.design.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from agents.answer_text import ReadAnswer
from agents.answers import answers_match, kendall_tau, numbers_match, polymer_key
from agents.schema import Answer, AnswerType, Outcome, Task
from kb.errors import UnitError, UnknownPropertyError
from kb.properties import get_property
from kb.units import convert

if TYPE_CHECKING:
    from eval.design import DesignJudge, DesignVerdict


class Score(BaseModel):
    """How one prediction scored: the outcome, whether it is right, and the type's own metrics."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    correct: bool
    metrics: dict[str, float | None] = {}     # abs_error / log_error, tau, f1, ... (per answer type)
    error_unit: str | None = None             # unit of abs_error (numbers)
    note: str | None = None                   # why it is wrong / unscored, in words
    design: DesignVerdict | None = None       # design answers only


Scorer = Callable[[Task, Answer, "DesignJudge | None"], Score]
SCORERS: dict[AnswerType, Scorer] = {}


def scorer(answer_type: AnswerType) -> Callable[[Scorer], Scorer]:
    """Register the scorer of one answer type (lm-eval's metric registry, by type)."""

    def register(fn: Scorer) -> Scorer:
        SCORERS[answer_type] = fn
        return fn

    return register


def _verdict(correct: bool, note: str | None = None, **metrics: float | None) -> Score:
    return Score(outcome="solved" if correct else "wrong", correct=correct, metrics=metrics, note=note)


@scorer("choice")
def score_choice(task: Task, answer: Answer, design: DesignJudge | None = None) -> Score:
    return _verdict(answers_match(task.gold, answer))


@scorer("yes_no")
def score_yes_no(task: Task, answer: Answer, design: DesignJudge | None = None) -> Score:
    return _verdict(answers_match(task.gold, answer))


def canonical_error_unit(task: Task) -> str | None:
    """The unit errors of a number task are measured in: the asked property's canonical unit, else the gold's."""
    if task.params.property:
        try:
            return get_property(task.params.property).unit
        except UnknownPropertyError:
            pass
    return task.gold.unit


@scorer("number")
def score_number(task: Task, answer: Answer, design: DesignJudge | None = None) -> Score:
    """Right within the gold's tolerance; abs_error in the canonical unit (log_error in decades as well)."""
    gold = task.gold
    assert gold.number is not None and answer.number is not None
    correct = numbers_match(gold, answer.number, answer.unit)
    target = canonical_error_unit(task)
    try:
        value = convert(answer.number, answer.unit or gold.unit or "", target) if target else answer.number
        truth = convert(gold.number, gold.unit or "", target) if target else gold.number
    except UnitError as exc:
        score = _verdict(correct, f"unit {answer.unit!r} does not convert to {target}: {exc}", abs_error=None)
        return score.model_copy(update={"error_unit": target})
    metrics: dict[str, float | None] = {"abs_error": abs(value - truth)}
    if value > 0 and truth > 0:
        metrics["log_error"] = abs(math.log10(value) - math.log10(truth))
    return Score(outcome="solved" if correct else "wrong", correct=correct, metrics=metrics, error_unit=target)


@scorer("ranking")
def score_ranking(task: Task, answer: Answer, design: DesignJudge | None = None) -> Score:
    """Exact order right or not, and Kendall's tau of the highest-first orders."""
    norm = [x.strip().casefold() for x in answer.highest_first()]
    tau = kendall_tau([x.strip().casefold() for x in task.gold.highest_first()], norm)
    return _verdict(answers_match(task.gold, answer), tau=tau)


def _f1(gold: set[str], got: set[str]) -> float:
    if not gold and not got:
        return 1.0
    hit = len(gold & got)
    return 2 * hit / (len(gold) + len(got)) if gold or got else 0.0


@scorer("set")
def score_set(task: Task, answer: Answer, design: DesignJudge | None = None) -> Score:
    """Exact set right or not, and F1 of the items."""
    def norm(items: list[str] | None) -> set[str]:
        return {" ".join(str(x).split()).casefold() for x in items or []}

    return _verdict(answers_match(task.gold, answer), f1=_f1(norm(task.gold.items), norm(answer.items)))


@scorer("polymer")
def score_polymer(task: Task, answer: Answer, design: DesignJudge | None = None) -> Score:
    """A design task (constraints) is judged by the checks; any other polymer answer by canonical key."""
    if task.constraints:
        if design is None:
            return Score(outcome="wrong", correct=False, note="design answers need a DesignJudge (a KB) to score")
        verdict = design.judge(task, answer.polymer or "")
        return Score(outcome="solved" if verdict.verified else "wrong", correct=verdict.verified,
                     metrics={"valid": float(verdict.valid)}, note=verdict.note, design=verdict)
    key = polymer_key(answer.polymer or "")
    score = _verdict(answers_match(task.gold, answer), valid=float(key is not None))
    return score if key is not None else score.model_copy(update={"note": "not a valid repeat unit"})


def score_answer(task: Task, answer: Answer | None, design: DesignJudge | None = None) -> Score:
    """Score a parsed answer (None: nothing to score, counted as unparseable)."""
    if answer is None:
        return Score(outcome="unparseable", correct=False, note="no answer")
    if answer.type != task.answer_type:
        return Score(outcome="wrong", correct=False, note=f"a {answer.type} answer to a {task.answer_type} task")
    return SCORERS[task.answer_type](task, answer, design)


def score_reading(task: Task, read: ReadAnswer, design: DesignJudge | None = None) -> Score:
    """Score what agents.answer_text.read_answer made of an output: refusals and bad parses are outcomes."""
    if read.status == "refused":
        return Score(outcome="refused", correct=False, note=read.reason)
    if read.status == "unparseable" or read.answer is None:
        return Score(outcome="unparseable", correct=False, note=read.reason)
    return score_answer(task, read.answer, design)


from eval.design import DesignVerdict  # resolves the forward reference of Score.design

Score.model_rebuild()
