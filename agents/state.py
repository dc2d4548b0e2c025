"""LangGraph state of the task-generation graph."""

from __future__ import annotations

from typing import TypedDict

from agents.schema import Task
from agents.taskgen.base import Draw


class TaskGenState(TypedDict):
    """One (template, split) job: drafts move through sample -> compose -> validate -> emit in batches."""

    template: str
    split: str
    want: int                 # tasks to emit
    max_attempts: int         # draws allowed before giving up (counted as 'exhausted')
    seed: int
    batch: int                # batch number (part of the RNG seed, so runs are deterministic)
    attempts: int
    draws: list[Draw]
    drafts: list[Task]
    emitted: list[Task]
    seen: set[str]            # ids and questions already emitted (deduplication)
    rejections: dict[str, int]
