"""One trace, two renderings: a tool transcript for tool-augmented students and a standalone chain of thought.

Both end in the one `Answer:` line (agents.answer_text), so one parser reads every rendering back. A tool
call is written inside an assistant turn as a line `Tool call: {"name": ..., "args": {...}}`; the solver's
language-model backbones are asked for, and parse, exactly this form (`tool_call_text` / `read_tool_call`).
"""

from __future__ import annotations

import json
import re

from agents.answer_text import answer_line
from agents.schema import Step, ToolCall, Trace

TOOL_CALL_PREFIX = "Tool call:"
_TOOL_CALL = re.compile(r"^\s*Tool call:\s*(\{.*\})\s*$", re.MULTILINE)


def tool_call_text(call: ToolCall) -> str:
    """How a tool call is written in an assistant turn (compact JSON, keys sorted: one spelling)."""
    return f"{TOOL_CALL_PREFIX} {json.dumps({'name': call.name, 'args': call.args}, sort_keys=True)}"


def read_tool_call(text: str) -> ToolCall | None:
    """The last `Tool call:` line of an assistant turn, or None when there is none or it is not valid JSON."""
    found = _TOOL_CALL.findall(text or "")
    if not found:
        return None
    try:
        data = json.loads(found[-1])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not isinstance(data.get("args"), dict):
        return None
    return ToolCall(name=data["name"], args=data["args"])


def _fact(step: Step) -> str:
    """A step stated as prose: the thought, then what was found (the conclusion carries the facts)."""
    parts = [step.thought.strip()]
    if step.conclusion:
        parts.append(step.conclusion.strip())
    return " ".join(p for p in parts if p)


def render_standalone(trace: Trace) -> str:
    """The standalone chain of thought: every step with its facts inline, no tool calls, then `Answer:`."""
    if trace.final_answer is None:
        raise ValueError(f"trace of {trace.task_id} has no final answer to render")
    lines = [f"{i}. {_fact(step)}" for i, step in enumerate(trace.steps, 1)]
    return "\n".join([*lines, answer_line(trace.final_answer)])


def render_direct(trace: Trace) -> str:
    """The answer line alone (the `direct` training variant)."""
    if trace.final_answer is None:
        raise ValueError(f"trace of {trace.task_id} has no final answer to render")
    return answer_line(trace.final_answer)


def render_tool_transcript(trace: Trace) -> list[dict[str, str]]:
    """The turns after the user prompt: assistant (thought + tool call) / tool (observation) ..., then a final
    assistant turn with the remaining reasoning and the `Answer:` line."""
    if trace.final_answer is None:
        raise ValueError(f"trace of {trace.task_id} has no final answer to render")
    turns: list[dict[str, str]] = []
    pending: list[str] = []
    for step in trace.steps:
        if step.tool_call is None:
            pending.append(_fact(step))
            continue
        turns.append({"role": "assistant",
                      "content": "\n".join([*pending, step.thought.strip(), tool_call_text(step.tool_call)])})
        turns.append({"role": "tool", "content": step.observation or ""})
        pending = [step.conclusion.strip()] if step.conclusion else []
    turns.append({"role": "assistant", "content": "\n".join([*pending, answer_line(trace.final_answer)])})
    return turns

