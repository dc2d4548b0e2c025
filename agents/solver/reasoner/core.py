"""The reasoner's machinery: plans as generators replayed over the steps done, observations, finals.

A template's plan is a generator: it yields a `Step` with a tool call, receives that call's `Observation`
(the graph executed it), and finally returns a `Final`. `reasoner_step` is stateless: it replays the plan
over the steps already done (feeding each its observation) and hands back the next step, or the Final. A
plan reads only the task's question-visible parts (params, options, constraints, sub-question questions),
never a gold.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from agents.schema import Answer, Skill, Step, Task, ToolCall


class Final(BaseModel):
    """The end of a plan: the answer (None: no answer), closing steps without tool calls, and a note."""

    model_config = ConfigDict(extra="forbid")

    answer: Answer | None
    steps: list[Step] = []
    note: str | None = None


@dataclass(frozen=True)
class ReasonerTools:
    """What the reasoner may call: the names of the tools the graph will execute."""

    names: frozenset[str]

    @classmethod
    def from_tools(cls, tools: Sequence[Any]) -> ReasonerTools:
        """From LangChain tools (anything with a .name) or plain names."""
        return cls(frozenset(getattr(t, "name", t) for t in tools))

    def has(self, name: str) -> bool:
        return name in self.names


@dataclass(frozen=True)
class Observation:
    """A tool's answer as the plan reads it: ok with its data, or the error message."""

    ok: bool
    data: dict
    error: str | None = None

    @classmethod
    def of(cls, step: Step) -> Observation:
        """Parse a done step's observation (the ToolResult JSON the tool returned)."""
        try:
            result = json.loads(step.observation or "")
        except (json.JSONDecodeError, TypeError):
            return cls(False, {}, (step.observation or "no observation")[:300])
        if not isinstance(result, dict):
            return cls(False, {}, "observation is not a JSON object")
        ok = bool(result.get("ok")) and step.tool_ok is not False
        data = result.get("data") if isinstance(result.get("data"), dict) else {}
        return cls(ok, data or {}, None if ok else str(result.get("error") or "tool failed"))


Plan = Generator[Step, Observation, Final]
PlanFn = Callable[[Task, ReasonerTools], Plan]


def call(skill: Skill, thought: str, name: str, args: dict, sub: str | None = None) -> Step:
    """A step that asks the graph to run one tool."""
    return Step(skill=skill, thought=thought, tool_call=ToolCall(name=name, args=args), sub_question=sub)


def say(skill: Skill, thought: str, conclusion: str | None = None, sub: str | None = None,
        answer: Answer | None = None) -> Step:
    """A reasoning step without a tool call (sub_answer set when it answers a sub-question)."""
    return Step(skill=skill, thought=thought, conclusion=conclusion, sub_question=sub, sub_answer=answer)


def replay(plan: Plan, done: Sequence[Step]) -> Step | Final:
    """Run a plan over the steps already done; the next step it wants, or its Final."""
    try:
        step = next(plan)
        for past in done:
            step = plan.send(Observation.of(past))
        return step
    except StopIteration as stop:
        final = stop.value
        return final if isinstance(final, Final) else Final(answer=None, note="plan ended without a Final")


def num(x: float) -> str:
    """A number as the steps write it: 4 significant digits (the verifier reads numbers back at that
    precision), no exponent for ordinary magnitudes."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    text = f"{x:.4g}"
    if "e" in text and 1e-4 <= abs(x) < 1e15:
        text = f"{float(text):f}".rstrip("0").rstrip(".")
    return text


def sub_ids(task: Task) -> set[str]:
    """The task's sub-question ids (a step answers one only when the task has it)."""
    return {s.id for s in task.sub_questions}


def sub_for(task: Task, wanted: str) -> str | None:
    """`wanted` when the task has a sub-question of that id, else None."""
    return wanted if wanted in sub_ids(task) else None


def number_answer(value: float, unit: str | None) -> Answer:
    return Answer(type="number", number=float(f"{value:.6g}"), unit=unit)


def choice_of(task: Task, letter: str) -> Answer:
    return Answer(type="choice", choice=letter)


def options_of(task: Task) -> list[tuple[str, str]]:
    """(letter, text) of each option."""
    out = []
    for option in task.options or []:
        letter, _, text = option.partition(") ")
        out.append((letter.strip(), text))
    return out
