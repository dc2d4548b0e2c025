"""The task-generation graph: sample polymers from one split -> compose a task with its gold -> validate -> emit.

    python -m agents.taskgen --kb-dir .polybench/kb --out tasks/   (drives this graph for every template x split)

Each node handles a batch of drafts so that graph overhead stays small at 100k+ tasks.
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Literal

import numpy as np
from langgraph.graph import END, START, StateGraph

from agents.state import TaskGenState
from agents.taskgen.base import Draw, Rejected, TemplateContext
from agents.taskgen.checks import task_problem
from agents.taskgen.registry import get_template

BATCH = 256
SPLIT_CODE = {"train": 0, "dev": 1, "test": 2}


def _count(rejections: dict[str, int], reasons: list[str]) -> dict[str, int]:
    merged = Counter(rejections)
    merged.update(reasons)
    return dict(merged)


def build_taskgen_graph(ctx: TemplateContext):
    """Compile the generator graph for one split's pools (templates are looked up by name from the state)."""

    def sample(state: TaskGenState) -> dict:
        template = get_template(state["template"])
        rng = np.random.default_rng([state["seed"], zlib.crc32(template.name.encode()),
                                     SPLIT_CODE[state["split"]], state["batch"]])
        need = min(BATCH, state["max_attempts"] - state["attempts"])
        draws, reasons = [], []
        for _ in range(need):
            draw = template.sample(ctx, rng)
            (reasons.append(f"sample: {draw.reason}") if isinstance(draw, Rejected) else draws.append(draw))
        return {"draws": draws, "attempts": state["attempts"] + need, "batch": state["batch"] + 1,
                "rejections": _count(state["rejections"], reasons)}

    def compose(state: TaskGenState) -> dict:
        template = get_template(state["template"])
        drafts, reasons = [], []
        for draw in state["draws"]:
            task = template.compose(ctx, draw)
            (reasons.append(f"compose: {task.reason}") if isinstance(task, Rejected) else drafts.append(task))
        return {"drafts": drafts, "draws": [], "rejections": _count(state["rejections"], reasons)}

    def validate(state: TaskGenState) -> dict:
        template = get_template(state["template"])
        kept, reasons = [], []
        for task in state["drafts"]:
            problem = task_problem(template, ctx, task)
            (reasons.append(f"validate: {problem}") if problem else kept.append(task))
        return {"drafts": kept, "rejections": _count(state["rejections"], reasons)}

    def emit(state: TaskGenState) -> dict:
        emitted, seen, reasons = list(state["emitted"]), set(state["seen"]), []
        for task in state["drafts"]:
            if len(emitted) >= state["want"]:
                break
            if task.id in seen or task.question in seen:
                reasons.append("emit: duplicate")
                continue
            seen.update((task.id, task.question))
            emitted.append(task)
        return {"emitted": emitted, "seen": seen, "drafts": [], "rejections": _count(state["rejections"], reasons)}

    def more(state: TaskGenState) -> Literal["sample", "__end__"]:
        if len(state["emitted"]) < state["want"] and state["attempts"] < state["max_attempts"]:
            return "sample"
        return END

    builder = StateGraph(TaskGenState)
    builder.add_node("sample", sample)
    builder.add_node("compose", compose)
    builder.add_node("validate", validate)
    builder.add_node("emit", emit)
    builder.add_edge(START, "sample")
    builder.add_edge("sample", "compose")
    builder.add_edge("compose", "validate")
    builder.add_edge("validate", "emit")
    builder.add_conditional_edges("emit", more)
    return builder.compile(name="taskgen")


def run_job(ctx: TemplateContext, template: str, want: int, seed: int, max_attempts: int | None = None
            ) -> TaskGenState:
    """Generate up to `want` tasks of one template from one split; returns the final state."""
    graph = build_taskgen_graph(ctx)
    budget = max_attempts if max_attempts is not None else max(want * 8, 64)
    state: TaskGenState = {"template": template, "split": ctx.split, "want": want, "max_attempts": budget,
                           "seed": seed, "batch": 0, "attempts": 0, "draws": [], "drafts": [], "emitted": [],
                           "seen": set(), "rejections": {}}
    return graph.invoke(state, {"recursion_limit": 4 * (budget // BATCH + 2) + 10})


__all__ = ["Draw", "build_taskgen_graph", "run_job"]
