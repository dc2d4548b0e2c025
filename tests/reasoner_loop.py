"""A minimal test-only loop that executes the reasoner's tool calls (the real graph is agents.solver.graph)."""

from __future__ import annotations

from agents.schema import Step, Task, Trace
from agents.solver.reasoner import Final, ReasonerTools, reasoner_step
from tools.kb_view import KBView
from tools.langchain_tools import build_tools

MAX_STEPS = 80


def run_reasoner(task: Task, view: KBView, estimate_ctx=None) -> Trace:
    """Run the reasoner on a task through the tools of `view`; the trace with its steps and final answer."""
    tools = {t.name: t for t in build_tools(view, estimate_ctx)}
    menu = ReasonerTools.from_tools(list(tools.values()))
    done: list[Step] = []
    for _ in range(MAX_STEPS):
        nxt = reasoner_step(task, done, menu)
        if isinstance(nxt, Final):
            return Trace(task_id=task.id, model="reasoner", steps=[*done, *nxt.steps], final_answer=nxt.answer,
                         verification_note=nxt.note, tool_calls=sum(1 for s in done if s.tool_call is not None),
                         tool_errors=sum(1 for s in done if s.tool_ok is False))
        if nxt.tool_call is None:  # a reasoning step: recorded as done (as the graph does)
            done.append(nxt)
            continue
        text = tools[nxt.tool_call.name].invoke(nxt.tool_call.args)
        done.append(nxt.model_copy(update={"observation": text, "tool_ok": '"ok":true' in text[:40]}))
    return Trace(task_id=task.id, model="reasoner", steps=done, outcome="budget")
