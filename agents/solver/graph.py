"""The solver graph: read the task -> plan -> decide (the policy) -> act (call a tool, observe its result) -> ...
-> compose the answer -> verify it with the tools -> revise (bounded) -> finish with a Trace.

One graph for every backbone: the policy (agents.solver.policy) and the task's tools travel in the run's
context (`SolveContext`), the state is checkpointed after every node. Budgets (steps, tool calls, working
seconds) are checked before each decision; a run that hits one finishes with outcome "budget" and no answer.
A failed tool call (ok=false, an unknown tool, or an exception, recorded with its type) is an observation
the model reads; too many of them end the attempt as "tool_error".
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agents.answer_text import answer_line
from agents.schema import Outcome, Step, Trace
from agents.solver.answer_checks import answer_problems
from agents.solver.backbones import BackboneError
from agents.solver.config import SolverConfig
from agents.solver.policy import Policy, ToolBox
from agents.solver.prompts import tool_system, tool_task_prompt
from agents.solver.render import tool_call_text
from agents.solver.state import Move, SolverState
from tools.langchain_tools import failure

log = logging.getLogger(__name__)

MAX_OBSERVATION_CHARS = 3000  # what a language model reads of one tool result (the step keeps all of it)
OUTCOME_OF_STOP: dict[str, Outcome | None] = {"answered": None, "budget": "budget", "unparseable": "unparseable",
                                             "tool_error": "tool_error", "refused": "refused"}


@dataclass
class SolveContext:
    """What one run needs besides its state: the policy, the task's tools, the budgets, the model's name."""

    policy: Policy
    toolbox: ToolBox
    config: SolverConfig
    model_name: str


Node = Callable[[SolverState, Runtime[SolveContext]], dict]


def timed(node: Node) -> Node:
    """A node that adds its own running time to state['seconds'] (working time, fair across resumes)."""
    def run(state: SolverState, runtime: Runtime[SolveContext]) -> dict:
        start = time.perf_counter()
        update = node(state, runtime)
        return {**update, "seconds": state.get("seconds", 0.0) + time.perf_counter() - start}
    run.__name__ = node.__name__
    return run


def read_task(state: SolverState, runtime: Runtime[SolveContext]) -> dict:
    """Start an attempt: empty steps and counters."""
    return {"steps": [], "malformed": [], "revisions": 0, "tool_calls": 0, "tool_errors": 0, "seconds": 0.0,
            "turns": 0, "stop": None, "pending": None, "answer": None, "raw_final": None, "verified": False,
            "verification_note": None, "trace": None, "messages": []}


def plan(state: SolverState, runtime: Runtime[SolveContext]) -> dict:
    """One plan line per sub-question (the question itself when there are none), and the model's first chat."""
    task, ctx = state["task"], runtime.context
    lines = [f"{sq.question} [{sq.skill}]" for sq in task.sub_questions] or [task.question.strip().splitlines()[0]]
    messages = []
    if ctx.policy.uses_messages:
        messages = [{"role": "system", "content": tool_system(ctx.toolbox.menu())},
                    {"role": "user", "content": tool_task_prompt(task, lines, cot=ctx.config.cot)}]
    return {"plan": lines, "messages": messages}


def over_budget(state: SolverState, config: SolverConfig) -> str | None:
    """Which budget is spent, in words, or None."""
    if state.get("turns", 0) >= config.max_steps:
        return f"step budget spent ({config.max_steps} decisions)"
    if state.get("seconds", 0.0) >= config.max_seconds:
        return f"time budget spent ({state.get('seconds', 0.0):.1f} s of {config.max_seconds:g} s)"
    return None


def decide(state: SolverState, runtime: Runtime[SolveContext]) -> dict:
    """Ask the policy for the next move, within the budgets; malformed outputs are kept and re-asked."""
    ctx = runtime.context
    spent = over_budget(state, ctx.config)
    if spent:
        return {"stop": "budget", "pending": None, "verification_note": spent}
    try:
        move = ctx.policy.next_move(state, ctx.toolbox)
    except BackboneError as exc:  # a server that did not answer: kept like a malformed reply, re-asked
        move = Move(kind="malformed", raw=f"[backbone error] {exc}", note=f"the model failed ({exc})")
    turns = state.get("turns", 0) + 1
    if move.kind == "tool" and move.step and move.step.tool_call and state["tool_calls"] >= ctx.config.max_tool_calls:
        return {"stop": "budget", "pending": None, "turns": turns,
                "verification_note": f"tool-call budget spent ({ctx.config.max_tool_calls} calls)"}
    if move.kind != "malformed":
        return {"pending": move, "turns": turns}
    malformed = [*state["malformed"], move.raw or ""]
    if len(malformed) > ctx.config.max_retries:
        return {"stop": "unparseable", "pending": None, "malformed": malformed, "turns": turns,
                "verification_note": f"{len(malformed)} malformed outputs; last: {move.note}"}
    feedback = f"Your reply could not be used: {move.note}. Reply with one 'Tool call:' line or one 'Answer:' line."
    return {"pending": None, "malformed": malformed, "turns": turns,
            "messages": [*state["messages"], {"role": "assistant", "content": move.raw or ""},
                         {"role": "user", "content": feedback}]}


def route_decision(state: SolverState) -> Literal["act", "compose", "decide", "finish"]:
    """After a decision: run the tool, compose the answer, ask again (malformed), or finish (a budget)."""
    if state.get("stop"):
        return "finish"
    move = state.get("pending")
    if move is None:
        return "decide"
    return "act" if move.kind == "tool" else "compose"


def act(state: SolverState, runtime: Runtime[SolveContext]) -> dict:
    """Run the pending tool call (any failure becomes the observation: an exception with its type), then
    observe: record the step with what the tool returned and count calls and failures."""
    move = state["pending"]
    assert move is not None and move.step is not None
    call = move.step.tool_call
    if call is None:  # a reasoning step without a tool (the reasoner's): recorded as done
        return {"pending": None, "steps": [*state["steps"], move.step]}
    tools = runtime.context.toolbox.tools
    tool = tools.get(call.name)
    if tool is None:
        text = failure(call.name, f"unknown tool {call.name!r}; tools are: {', '.join(tools)}")
    else:
        try:
            text = str(tool.invoke(call.args))
        except Exception as exc:  # a tool bug must not end the solve: the model reads it, the trace counts it
            log.warning("tool %s raised %s", call.name, type(exc).__name__, exc_info=True)
            text = failure(call.name, f"the tool raised {type(exc).__name__}: {exc}")
    return observe(state, move.step.model_copy(update={"observation": text}), runtime.context)


def observe(state: SolverState, step: Step, ctx: SolveContext) -> dict:
    """The state update of one executed tool step: the step, its counts, the model's next chat turns."""
    ok, source, shown = read_result(step.observation or "")
    step = step.model_copy(update={"tool_ok": ok, "source": step.source or source})
    errors = state["tool_errors"] + (not ok)
    update: dict[str, Any] = {"pending": None, "steps": [*state["steps"], step],
                              "tool_calls": state["tool_calls"] + 1, "tool_errors": errors}
    if ctx.policy.uses_messages:
        assert step.tool_call is not None
        update["messages"] = [*state["messages"],
                              {"role": "assistant", "content": f"{step.thought}\n{tool_call_text(step.tool_call)}"},
                              {"role": "tool", "content": shown}]
    if errors >= ctx.config.max_tool_errors:
        update |= {"stop": "tool_error", "verification_note": f"{errors} failed tool calls"}
    return update


def read_result(text: str) -> tuple[bool, str | None, str]:
    """(ok, provenance in short, the text cut to what a model reads) of one tool result."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    ok = isinstance(data, dict) and data.get("ok") is True
    source = None
    if ok and isinstance(data.get("provenance"), dict):
        prov = data["provenance"]
        parts = [f"polymers {prov['polymer_ids'][:10]}" if prov.get("polymer_ids") else "",
                 f"sources {prov['source_ids'][:10]}" if prov.get("source_ids") else "",
                 f"kb {prov['kb_version']}" if prov.get("kb_version") else ""]
        source = "; ".join(p for p in parts if p) or None
    if len(text) > MAX_OBSERVATION_CHARS:
        text = text[: MAX_OBSERVATION_CHARS - 20] + " ... (cut here)"
    return ok, source, text


def route_action(state: SolverState) -> Literal["decide", "finish"]:
    return "finish" if state.get("stop") else "decide"


def compose(state: SolverState, runtime: Runtime[SolveContext]) -> dict:
    """Take the policy's answer (or its refusal) with its closing reasoning steps."""
    move = state["pending"]
    assert move is not None
    steps = [*state["steps"], *move.closing_steps]
    if move.refused or move.answer is None:
        return {"pending": None, "steps": steps, "stop": "refused", "answer": None, "raw_final": move.raw,
                "verification_note": move.note or "the model declined to answer"}
    return {"pending": None, "steps": steps, "answer": move.answer, "raw_final": move.raw}


def verify(state: SolverState, runtime: Runtime[SolveContext]) -> dict:
    """Check the answer with the tools; send it back with the problems while revisions remain."""
    if state.get("stop"):
        return {}
    ctx = runtime.context
    answer = state["answer"]
    assert answer is not None
    problems = answer_problems(state["task"], answer, ctx.toolbox)
    if not problems:
        return {"stop": "answered", "verified": True, "verification_note": "checked by the tools"}
    note = "; ".join(problems)
    if ctx.policy.revisable and state["revisions"] < ctx.config.max_retries:
        feedback = f"The tools found problems with your answer: {note}. Revise it."
        return {"answer": None, "raw_final": None, "revisions": state["revisions"] + 1,
                "messages": [*state["messages"], {"role": "assistant", "content": answer_line(answer)},
                             {"role": "user", "content": feedback}]}
    return {"stop": "answered", "verified": False, "verification_note": note}


def route_verification(state: SolverState) -> Literal["decide", "finish"]:
    return "finish" if state.get("stop") else "decide"


def finish(state: SolverState, runtime: Runtime[SolveContext]) -> dict:
    """The Trace of the attempt: an answer only when one was composed; the outcome says how it ended."""
    stop = state.get("stop") or "budget"
    answer = state.get("answer") if stop == "answered" else None
    return {"trace": Trace(task_id=state["task"].id, model=runtime.context.model_name, steps=state["steps"],
                           final_answer=answer, raw_final=state.get("raw_final") if answer else None,
                           outcome=OUTCOME_OF_STOP[stop], verified=bool(state.get("verified")) and answer is not None,
                           verification_note=state.get("verification_note"), malformed_outputs=state["malformed"],
                           tool_calls=state["tool_calls"], tool_errors=state["tool_errors"],
                           seconds=round(state.get("seconds", 0.0), 3))}


def build_graph(checkpointer: Any = None) -> Any:
    """The compiled solver graph (optionally with a checkpointer; thread id = task id)."""
    builder = StateGraph(SolverState, context_schema=SolveContext)
    for node in (read_task, plan, decide, act, compose, verify, finish):
        builder.add_node(node.__name__, cast(Any, timed(node)))
    builder.add_edge(START, "read_task")
    builder.add_edge("read_task", "plan")
    builder.add_edge("plan", "decide")
    builder.add_conditional_edges("decide", route_decision)
    builder.add_conditional_edges("act", route_action)
    builder.add_edge("compose", "verify")
    builder.add_conditional_edges("verify", route_verification)
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer, name="solver")
