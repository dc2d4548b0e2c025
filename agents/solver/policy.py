"""Policies: what decides the solver graph's next move. One graph serves every backbone through these.

`ChatPolicy` wraps any LangChain chat model (the hf: / openai: text models of agents.solver.chat_models, the
scripted fake of the tests) and reads its reply as one move: a `Tool call: {json}` line (or a native tool
call), an `Answer:` line, or a malformed output kept with the reason. `ReasonerPolicy` adapts the
deterministic `reasoner_step(task, done, tools)` of agents.solver.reasoner (helper "reasoner") to the same
interface: its import point is `load_reasoner`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool

from agents.answer_text import final_answer_text, option_labels, read_answer
from agents.schema import Skill, Step, Task, ToolCall
from agents.solver.backbones import BackboneError
from agents.solver.grammar import answer_rule
from agents.solver.render import TOOL_CALL_PREFIX, read_tool_call
from agents.solver.state import Move, SolverState
from tools.kb_view import KBView

log = logging.getLogger(__name__)

# The skill a tool call serves, for steps written by language models (the reasoner tags its own steps).
TOOL_SKILLS: dict[str, Skill] = {
    "validate_polymer": "parse-structure", "describe_polymer": "count-features", "compare_polymers": "compare",
    "substructure_search": "identify-linkage", "get_property_values": "look-up-property",
    "find_polymers": "check-constraint", "property_info": "recall-definition", "polymer_record": "look-up-property",
    "similar_polymers": "estimate-property", "text_search": "look-up-property", "forward_synthesis": "select-monomers",
    "retro_synthesis": "select-monomers", "monomer_classes": "classify-polymer", "sql": "look-up-property",
    "estimate_property": "estimate-property"}


@dataclass
class ToolBox:
    """The tools of one solve: the KB view the task's split allows, its estimate context, tools by name."""

    view: KBView
    estimate_ctx: Any
    tools: dict[str, BaseTool] = field(default_factory=dict)

    def menu(self) -> list[tuple[str, str, list[str]]]:
        """(name, first sentence of the description, argument names) per tool, for the system prompt."""
        out = []
        for name, tool in self.tools.items():
            about = (tool.description or "").split(". ")[0].rstrip(".") + "."
            args = list(tool.args_schema.model_fields) if tool.args_schema is not None else []  # type: ignore[union-attr]
            out.append((name, about, args))
        return out


class Policy(Protocol):
    """Decides the next move from the state; `revisable`: whether verification feedback can change it."""

    name: str
    revisable: bool
    uses_messages: bool

    def next_move(self, state: SolverState, toolbox: ToolBox) -> Move: ...


def read_move(text: str, state: SolverState) -> Move:
    """One reply of a language model read as a move: a tool call, an answer, or malformed (with why)."""
    call = read_tool_call(text)
    answer_raw = final_answer_text(text)
    if call is not None and (answer_raw is None or text.rfind(TOOL_CALL_PREFIX) > text.lower().rfind("answer")):
        thought = text[: text.rfind(TOOL_CALL_PREFIX)].strip() or f"Call {call.name}."
        return Move(kind="tool", step=Step(skill=TOOL_SKILLS.get(call.name, "compose"), thought=thought,
                                           tool_call=call))
    if answer_raw is not None:
        read = read_answer(text, state["task"])
        if read.status == "unparseable":
            return Move(kind="malformed", raw=text, note=f"the answer line could not be read: {read.reason}")
        thought = text[: text.lower().rfind("answer")].strip()
        closing = [Step(skill="compose", thought=thought, conclusion=f"Answer: {read.raw or ''}".strip())] \
            if thought else []
        return Move(kind="answer", raw=read.raw, answer=read.answer, refused=read.status == "refused",
                    closing_steps=closing)
    if TOOL_CALL_PREFIX.lower() in text.lower():
        return Move(kind="malformed", raw=text, note='the tool call is not a JSON object {"name": ..., "args": {...}} '
                                                     "on one line")
    return Move(kind="malformed", raw=text, note="the reply has neither a 'Tool call:' line nor an 'Answer:' line")


def _native_move(message: AIMessage) -> Move:
    """A move from a chat model's native tool call (providers that return tool_calls)."""
    first = message.tool_calls[0]
    thought = str(message.content or "").strip() or f"Call {first['name']}."
    args = first.get("args")
    if not isinstance(args, dict):
        return Move(kind="malformed", raw=json.dumps(first, default=str), note="the tool call's args are not an object")
    return Move(kind="tool", step=Step(skill=TOOL_SKILLS.get(first["name"], "compose"), thought=thought,
                                       tool_call=ToolCall(name=first["name"], args=args)))


def to_langchain(messages: list[dict[str, str]]) -> list[BaseMessage]:
    """The state's plain chat as LangChain messages (tool turns become ToolMessages)."""
    kinds: dict[str, Callable[[str], BaseMessage]] = {
        "system": lambda c: SystemMessage(c), "user": lambda c: HumanMessage(c), "assistant": lambda c: AIMessage(c),
        "tool": lambda c: ToolMessage(c, tool_call_id="call")}
    return [kinds[m["role"]](m["content"]) for m in messages]


@dataclass
class ChatPolicy:
    """A LangChain chat model as a policy: the state's chat in, one move out."""

    model: BaseChatModel
    name: str = "chat"
    revisable: bool = True
    uses_messages: bool = True

    def next_move(self, state: SolverState, toolbox: ToolBox) -> Move:
        try:
            reply = self.model.invoke(to_langchain(state["messages"]), answer_rule=task_answer_rule(state["task"]))
        except BackboneError:
            raise
        except Exception as exc:  # a model that fails (OOM, a bad adapter) ends no run: recorded with its type
            log.warning("chat model %s failed", self.name, exc_info=True)
            raise BackboneError(f"{type(exc).__name__}: {exc}") from exc
        if isinstance(reply, AIMessage) and reply.tool_calls:
            return _native_move(reply)
        text = reply.content if isinstance(reply.content, str) else json.dumps(reply.content, default=str)
        return read_move(text, state)


def task_answer_rule(task: Task) -> str:
    """The grammar rule of the task's answer text (used by grammar-constrained models, ignored by others)."""
    labels = option_labels(task) if task.answer_type == "choice" else [p.label for p in task.params.polymers]
    return answer_rule(task.answer_type, labels or None)


def load_reasoner() -> Any:
    """The import point of the deterministic reasoner (agents.solver.reasoner, helper "reasoner")."""
    from agents.solver import reasoner  # type: ignore[attr-defined]

    return reasoner


@dataclass
class ReasonerPolicy:
    """The deterministic reasoner as a policy: reasoner_step(task, done, tools) -> Step | Final."""

    name: str = "reasoner"
    revisable: bool = False      # deterministic: the same state gives the same answer
    uses_messages: bool = False
    module: Any = None
    _tools: dict[int, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.module = self.module or load_reasoner()

    def reasoner_tools(self, toolbox: ToolBox) -> Any:
        """The reasoner's handle on this toolbox: the names of the tools the graph will run for it."""
        key = id(toolbox)
        if key not in self._tools:
            self._tools[key] = self.module.ReasonerTools.from_tools(list(toolbox.tools.values()))
        return self._tools[key]

    def next_move(self, state: SolverState, toolbox: ToolBox) -> Move:
        out = self.module.reasoner_step(state["task"], list(state["steps"]), self.reasoner_tools(toolbox))
        if isinstance(out, Step):  # with a tool call the graph runs it; without one it is recorded as done
            return Move(kind="tool", step=out)
        answer = getattr(out, "answer", None)
        raw = answer.text() if answer is not None else None
        return Move(kind="answer", answer=answer, raw=raw, refused=answer is None,
                    closing_steps=list(getattr(out, "steps", []) or []), note=getattr(out, "note", None))
