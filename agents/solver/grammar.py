"""Constrained decoding for small local models (xgrammar): every reply is one optional thought line, then
either `Tool call: {"name": <a tool>, "args": <that tool's arguments>}` or `Answer: <text>` (agents.solver.render),
the answer text shaped by the task's answer type (a choice is one of its option letters, a ranking its labels...).

The tool-call part is built from each tool's JSON schema, so a constrained model can only name a real tool
with argument names it accepts; values are still the model's (the tools check them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool

THOUGHT_CHARS = 160  # one line of reasoning before the call or answer (small models ramble otherwise)


def call_schema(tool: BaseTool) -> dict:
    """JSON schema of one tool's call object: {"args": the tool's argument schema, "name": const} (sorted keys)."""
    args = tool.args_schema.model_json_schema() if tool.args_schema is not None else {"type": "object"}  # type: ignore[union-attr]
    args = _loose(args)
    defs = args.pop("$defs", {})
    schema = {"type": "object", "properties": {"args": args, "name": {"const": tool.name}},
              "required": ["name", "args"], "additionalProperties": False}
    return {**schema, "$defs": defs} if defs else schema


def _loose(schema: Any) -> Any:
    """The schema without string length / pattern limits (the tools check those; as grammar they cost seconds),
    object keys in sorted order (the one spelling of agents.solver.render.tool_call_text)."""
    if isinstance(schema, dict):
        out = {k: _loose(v) for k, v in schema.items() if k not in ("maxLength", "minLength", "pattern")}
        if isinstance(out.get("properties"), dict):  # keys in sorted order, as tool_call_text writes them
            out["properties"] = dict(sorted(out["properties"].items()))
        return out
    if isinstance(schema, list):
        return [_loose(v) for v in schema]
    return schema


def _quoted(text: str) -> str:
    """An EBNF string literal."""
    return json.dumps(text)


def answer_rule(answer_type: str, labels: list[str] | None = None) -> str:
    """EBNF (rule `root`) of the text after 'Answer: ' for one answer type; labels narrow choices and lists."""
    label = " | ".join(_quoted(x) for x in labels) if labels else '[A-Z]'
    rules = {
        "choice": f"root ::= ({label})",
        "yes_no": 'root ::= ("yes" | "no")',
        "number": 'root ::= "-"? [0-9]+ ("." [0-9]+)? ([eE] "-"? [0-9]+)? (" " [^\\n]{1,24})?',
        "ranking": f"root ::= item (\" > \" item)+ | item (\" < \" item)+\nitem ::= ({label})",
        "set": f"root ::= \"none\" | item (\", \" item)*\nitem ::= ({label})",
        "polymer": 'root ::= [^\\n* ]* "*" [^\\n* ]* "*" [^\\n* ]*',
    }
    return rules.get(answer_type, "root ::= [^\\n]+")


def reply_grammar(tools: list[BaseTool], *, thought: bool = True, answer: str | None = None) -> Any:
    """The xgrammar Grammar of one reply: [thought line] (tool call | 'Answer: ' + the `answer` rule)."""
    import xgrammar as xgr

    parts = [xgr.Grammar.from_json_schema(json.dumps(call_schema(t)), any_whitespace=False) for t in tools]
    call = xgr.Grammar.concat(xgr.Grammar.from_ebnf('root ::= "Tool call: "'), xgr.Grammar.union(*parts))
    body_text = xgr.Grammar.from_ebnf(answer or "root ::= [^\\n]+")
    answer_line = xgr.Grammar.concat(xgr.Grammar.from_ebnf('root ::= "Answer: "'), body_text)
    body = xgr.Grammar.union(call, answer_line) if parts else answer_line
    if not thought:
        return body
    head = xgr.Grammar.from_ebnf(f'root ::= ([^\\n]{{1,{THOUGHT_CHARS}}} "\\n")?')
    return xgr.Grammar.concat(head, body)


class ReplyConstraint:
    """Compiled reply grammars for one tokenizer and tool set, one per answer rule (compiled once each)."""

    def __init__(self, tokenizer: Any, vocab_size: int, tools: list[BaseTool], *, thought: bool = True) -> None:
        import xgrammar as xgr

        self.compiler = xgr.GrammarCompiler(xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size),
                                            max_threads=1)
        self.tools, self.thought = tools, thought
        self._compiled: dict[str | None, Any] = {}

    def factory(self, answer: str | None = None) -> Callable[[], Any]:
        """A factory of fresh logits processors (one per generate call) for replies with this answer rule."""
        from xgrammar.contrib.hf import LogitsProcessor

        if answer not in self._compiled:
            self._compiled[answer] = self.compiler.compile_grammar(
                reply_grammar(self.tools, thought=self.thought, answer=answer))
        compiled = self._compiled[answer]
        return lambda: LogitsProcessor(compiled)
