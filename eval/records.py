"""What an eval run writes per prompt: a Prediction (prompt, raw output, parsed answer, score), keyed by cell.

A cell is one (model spec, mode, chain of thought) combination; a prediction's key is `<cell> | <task id>`
so a resumed run knows exactly which prompts it already asked. `error_class` sorts every wrong prediction
into the error taxonomy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from agents.schema import Answer, AnswerType, Trace
from eval.scorers import Score

RECORD_VERSION = 1
Mode = Literal["standalone", "tools", "baseline"]
ErrorClass = Literal["budget", "tool_error", "wrong_tool", "bad_parse", "refused", "constraint_missed",
                     "wrong_value"]
ERROR_CLASSES: tuple[str, ...] = ErrorClass.__args__  # type: ignore[attr-defined]
POLYBENCH = "polybench"


class Cell(BaseModel):
    """One column of the results: a model, asked standalone / with tools / as a baseline, CoT on or off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    mode: Mode
    cot: bool

    @property
    def name(self) -> str:
        return f"{self.model} | {self.mode} | cot {'on' if self.cot else 'off'}"


class Prediction(BaseModel):
    """One asked prompt and how it scored."""

    model_config = ConfigDict(extra="forbid")

    record_version: int = RECORD_VERSION
    key: str
    cell: Cell
    benchmark: str                          # polybench, or the external benchmark's name
    task_id: str                            # '<task>#<sub-question>' for a sub-question asked on its own
    parent_id: str
    sub_id: str | None = None
    source: Literal["asked", "trace"] = "asked"   # trace: a sub-answer read from the solver's steps
    category: str
    template: str
    difficulty: int
    skill: str | None = None
    answer_type: AnswerType
    prompt: str
    raw_output: str | None
    parsed: Answer | None
    score: Score
    error_class: ErrorClass | None = None
    tool_calls: int = 0
    tool_errors: int = 0
    new_tokens: int | None = None
    seconds: float | None = None


def prediction_key(cell: Cell, task_id: str) -> str:
    return f"{cell.name} | {task_id}"


def error_class(score: Score, trace: Trace | None = None, known_tools: frozenset[str] = frozenset()) -> ErrorClass | None:
    """Why a prediction is wrong (None when right): the first of budget, tool error, wrong tool, bad parse,
    refusal, missed design constraint, wrong value."""
    if score.correct:
        return None
    if score.outcome == "budget":
        return "budget"
    if score.outcome == "tool_error":
        return "tool_error"
    if trace is not None and known_tools and any(
            s.tool_call is not None and s.tool_call.name not in known_tools for s in trace.steps):
        return "wrong_tool"
    if trace is not None and trace.tool_errors:
        return "tool_error"
    if score.outcome == "unparseable":
        return "bad_parse"
    if score.outcome == "refused":
        return "refused"
    if score.design is not None and score.design.constraint_missed:
        return "constraint_missed"
    return "wrong_value"
