"""Chat examples for supervised fine-tuning, built from distilled traces in three variants.

    cot     system + user (think step by step) -> assistant: the standalone chain of thought, then `Answer:`
    direct  system + user (answer line only)   -> assistant: the `Answer:` line alone
    tools   the tool-calling transcript: assistant turns (thought + `Tool call:`), tool turns (observations)

Prompts come from agents.solver.prompts and texts from agents.solver.render, so the student is trained on
exactly what the solver and eval ask and parse. Only assistant turns are trained on (training.tokens).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from agents.schema import Category, Split, Task, Trace
from agents.solver.prompts import SYSTEM, standalone_messages, task_prompt
from agents.solver.render import render_direct, render_standalone, render_tool_transcript

EXAMPLE_SCHEMA_VERSION = 1
Variant = Literal["cot", "direct", "tools"]
VARIANTS: tuple[str, ...] = ("cot", "direct", "tools")
Message = dict[str, str]


class ChatExample(BaseModel):
    """One training conversation; the assistant turns are the targets."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = EXAMPLE_SCHEMA_VERSION
    id: str                                   # <task id>:<variant>
    task_id: str
    split: Split
    category: Category
    variant: Variant
    messages: list[Message]


class DistillRecord(BaseModel):
    """One line of a distill shard (agents.distill): the task, its trace, whether it was kept, its renderings."""

    model_config = ConfigDict(extra="ignore")

    task: Task
    trace: Trace
    kept: bool
    reject_reason: str | None = None
    standalone: str | None = None
    tools: list[Message] | None = None


def tool_messages(record: DistillRecord) -> list[Message]:
    """The whole tool-variant chat: the distilled one when it carries its prompt, else our prompt + transcript."""
    turns = record.tools if record.tools else render_tool_transcript(record.trace)
    if turns and turns[0]["role"] == "system":
        return [dict(m) for m in turns]
    if turns and turns[0]["role"] == "user":
        return [{"role": "system", "content": SYSTEM}, *[dict(m) for m in turns]]
    prompt = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": task_prompt(record.task, cot=True)}]
    return [*prompt, *[dict(m) for m in turns]]


def build_messages(record: DistillRecord, variant: str) -> list[Message]:
    """The chat of one record in one variant."""
    task, trace = record.task, record.trace
    if variant == "cot":
        text = record.standalone or render_standalone(trace)
        return [*standalone_messages(task, cot=True), {"role": "assistant", "content": text}]
    if variant == "direct":
        return [*standalone_messages(task, cot=False), {"role": "assistant", "content": render_direct(trace)}]
    if variant == "tools":
        return tool_messages(record)
    raise ValueError(f"unknown variant {variant!r}; use one of {', '.join(VARIANTS)}")


def build_example(record: DistillRecord, variant: str) -> ChatExample:
    """The ChatExample of one kept record; ValueError naming the task when it cannot be trained on."""
    if record.trace.task_id != record.task.id:
        raise ValueError(f"trace of {record.trace.task_id} is paired with task {record.task.id}")
    messages = build_messages(record, variant)
    if not messages or messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
        raise ValueError(f"task {record.task.id}: the {variant} chat does not end in an assistant answer")
    return ChatExample(id=f"{record.task.id}:{variant}", task_id=record.task.id, split=record.task.split,
                       category=record.task.category, variant=variant, messages=messages)  # type: ignore[arg-type]


def read_record(line: str) -> DistillRecord:
    """One distill shard line as a DistillRecord (pydantic ValidationError on a bad one)."""
    return DistillRecord.model_validate_json(line)
