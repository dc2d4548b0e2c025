"""Constrained decoding for small local models (xgrammar): every reply is one optional thought line, then
either `Tool call: {"name": <a tool>, "args": <that tool's arguments>}` or `Answer: <text>` (agents.solver.render).

The tool-call part is built from each tool's JSON schema, so a constrained model can only name a real tool
with argument names it accepts; values are still the model's (the tools check them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool

THOUGHT_CHARS = 240  # one line of reasoning before the call or answer (small models ramble otherwise)


def call_schema(tool: BaseTool) -> dict:
    """JSON schema of one tool's call object: {"name": const, "args": the tool's argument schema}."""
    args = tool.args_schema.model_json_schema() if tool.args_schema is not None else {"type": "object"}  # type: ignore[union-attr]
    args = _loose(args)
    defs = args.pop("$defs", {})
    schema = {"type": "object", "properties": {"name": {"const": tool.name}, "args": args},
              "required": ["name", "args"], "additionalProperties": False}
    return {**schema, "$defs": defs} if defs else schema


def _loose(schema: Any) -> Any:
    """The schema without string length / pattern limits (the tools check those; as grammar they cost seconds)."""
    if isinstance(schema, dict):
        return {k: _loose(v) for k, v in schema.items() if k not in ("maxLength", "minLength", "pattern")}
    if isinstance(schema, list):
        return [_loose(v) for v in schema]
    return schema


def reply_grammar(tools: list[BaseTool], *, thought: bool = True) -> Any:
    """The xgrammar Grammar of one reply: [thought line] (tool call | answer line)."""
    import xgrammar as xgr

    parts = [xgr.Grammar.from_json_schema(json.dumps(call_schema(t)), any_whitespace=False) for t in tools]
    call = xgr.Grammar.concat(xgr.Grammar.from_ebnf('root ::= "Tool call: "'), xgr.Grammar.union(*parts))
    answer = xgr.Grammar.from_ebnf('root ::= "Answer: " [^\\n]+')
    body = xgr.Grammar.union(call, answer) if parts else answer
    if not thought:
        return body
    head = xgr.Grammar.from_ebnf(f'root ::= ([^\\n]{{1,{THOUGHT_CHARS}}} "\\n")?')
    return xgr.Grammar.concat(head, body)


def logits_processor_factory(tokenizer: Any, vocab_size: int, tools: list[BaseTool],
                             *, thought: bool = True) -> Callable[[], Any]:
    """A factory of fresh xgrammar logits processors (one per generate call) for a HF tokenizer."""
    import xgrammar as xgr
    from xgrammar.contrib.hf import LogitsProcessor

    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
    compiled = xgr.GrammarCompiler(info, max_threads=1).compile_grammar(reply_grammar(tools, thought=thought))
    return lambda: LogitsProcessor(compiled)
