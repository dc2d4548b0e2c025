"""Every tool as a LangChain StructuredTool behind one validation and error path.

`call_tool` is that path: the raw arguments are validated by the tool's argument model (tools.limits:
known keys, types, finite numbers, sizes, atoms, rings, UTF-8) before any RDKit or DuckDB work, then the
tool body runs. Every failure a caller can cause comes back as ToolResult(ok=False, error=...) whose
message says what to fix: argument errors (LangChain's own schema check uses the same message), any
PolyBenchError of the tool body, and malformed tool-call envelopes. Any other exception is a bug and is
NOT caught here. tests/test_tool_fuzz.py and bench/bench_tool_guard.py drive every tool with hostile input.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, ValidationError

from kb.errors import PolyBenchError
from tools import lookup, similarity, structure, synthesis
from tools.connections import kb_version
from tools.kb_view import KBView
from tools.limits import MonomerText, SmilesText, SQLText, ToolArgs, Word
from tools.schema import Provenance, ToolResult
from tools.sql import ALLOWED_TABLES, run_readonly_sql

MAX_ERROR_CHARS = 1500  # an error message is read by a model: long enough to act on, never a flood
MAX_PROBLEMS = 4  # argument problems listed per call


class ForwardArgs(ToolArgs):
    monomers: list[MonomerText] = Field(min_length=1, max_length=2, description="one or two monomer SMILES")
    polymer_class: Word = Field(description=f"one of {', '.join(synthesis.POLYMER_CLASSES)}")


class RetroArgs(ToolArgs):
    polymer: SmilesText = Field(description="repeat-unit SMILES with two * ends")


class MonomerClassArgs(ToolArgs):
    monomer: MonomerText = Field(description="monomer SMILES, e.g. OCCO")


class SQLArgs(ToolArgs):
    sql: SQLText = Field(description="one read-only SELECT (or WITH ... SELECT) over the allowed tables")
    max_rows: int = Field(50, ge=1, le=200)


@dataclass(frozen=True)
class ToolSpec:
    """A tool: its name, argument model, body (view, validated args) -> result, and description."""

    name: str
    args: type[BaseModel]
    body: Callable[[KBView, Any], object]
    description: str


def call_tool(spec: ToolSpec, view: KBView, raw: object) -> str:
    """Validate raw arguments, run the tool, and return its ToolResult as compact JSON text."""
    try:
        args = spec.args.model_validate(raw)
    except ValidationError as exc:
        return failure(spec.name, argument_problems(spec.args, exc))
    try:
        data = spec.body(view, args)
    except PolyBenchError as exc:
        return failure(spec.name, str(exc))
    provenance = getattr(data, "provenance", None) or Provenance(kb_version=kb_version(view))
    if isinstance(data, BaseModel):  # the ToolResult JSON, written without a second pass over the data
        return (f'{{"ok":true,"tool":{json.dumps(spec.name)},"data":{data.model_dump_json(exclude={"provenance"})},'
                f'"provenance":{provenance.model_dump_json(exclude_none=True)}}}')
    return ToolResult(ok=True, tool=spec.name, data=data, provenance=provenance).model_dump_json(exclude_none=True)


def failure(tool: str, message: str) -> str:
    """ToolResult(ok=False) JSON with a bounded, encodable message."""
    text = message.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 15] + " ... (cut here)"
    return ToolResult(ok=False, tool=tool, error=text).model_dump_json(exclude_none=True)


def argument_problems(model: type[BaseModel], exc: ValidationError) -> str:
    """One line naming each bad argument and why (the limit, the type wanted), then the arguments."""
    by_field: dict[str, str] = {}
    for err in exc.errors(include_input=False, include_url=False):
        where = _location(err["loc"])
        if err["type"] == "extra_forbidden":
            by_field.setdefault(where, f"unknown argument {_shown(where)}")
        elif err["type"] == "missing":
            by_field.setdefault(where, f"missing required argument {_shown(where)}")
        elif err["type"] == "value_error" or where not in by_field:
            by_field[where] = f"{_shown(where) if where else 'arguments'}: {err['msg'].removeprefix('Value error, ')}"
    problems = list(by_field.values())
    more = f"; and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
    fields = ", ".join(f"{n}{'' if f.is_required() else ' (optional)'}" for n, f in model.model_fields.items())
    return f"invalid arguments: {'; '.join(problems[:MAX_PROBLEMS])}{more}. Arguments are: {fields}"


def _location(loc: tuple) -> str:
    """A dotted argument path without pydantic's union-member tags (`int`, `function-after[...]`)."""
    parts = [str(loc[0])] if loc else []
    parts += [str(p) for p in loc[1:] if isinstance(p, int) or not any(c in str(p) for c in "[(-") and
              str(p) not in _TAGS]
    return ".".join(parts)


_TAGS = {"int", "str", "float", "bool", "list", "dict", "none", "constrained-str", "json-or-python"}


def _shown(name: str) -> str:
    return repr(name[:60])


class GuardedTool(StructuredTool):
    """A StructuredTool that also answers a malformed tool-call envelope with ok=False (not a raise)."""

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        problem = _envelope_problem(input)
        if problem is None:
            return super().invoke(input, config, **kwargs)
        content = failure(self.name, problem)
        call_id = input.get("id") if isinstance(input, dict) else None
        return ToolMessage(content=content, tool_call_id=str(call_id), name=self.name, status="error") \
            if call_id is not None else content

    async def ainvoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        if _envelope_problem(input) is not None:
            return self.invoke(input, config, **kwargs)
        return await super().ainvoke(input, config, **kwargs)


def _envelope_problem(call: Any) -> str | None:
    """Why a LangChain tool-call envelope cannot be run (LangChain itself would raise), or None."""
    if not (isinstance(call, dict) and call.get("type") == "tool_call"):
        return None
    if "id" not in call:
        return "the tool call has no id"
    if not isinstance(call.get("args"), dict):
        return f"the tool call's args must be a JSON object of named arguments, got {type(call.get('args')).__name__}"
    return None


def as_langchain_tool(spec: ToolSpec, view: KBView) -> BaseTool:
    """The spec as a LangChain tool; LangChain's own schema check answers through argument_problems."""
    first = next(iter(spec.args.model_fields), None)

    def run(*args: Any, **kwargs: Any) -> str:
        if args:  # LangChain passes a plain-string input positionally
            kwargs = {first: args[0], **kwargs} if first and len(args) == 1 else {"__positional__": list(args)}
        return call_tool(spec, view, kwargs)

    return GuardedTool.from_function(
        func=run, name=spec.name, description=spec.description, args_schema=spec.args,
        handle_validation_error=lambda exc: failure(spec.name, argument_problems(spec.args, exc)))


def _doc(fn: Callable) -> str:
    return " ".join((inspect.getdoc(fn) or "").split())


def _typed(fn: Callable, args_model: type[BaseModel]) -> ToolSpec:
    """A spec named after a typed tool function fn(view, args), described by its docstring."""
    return ToolSpec(fn.__name__, args_model, fn, _doc(fn))


def _forward(view: KBView, a: ForwardArgs) -> dict:
    return {"repeat_units": synthesis.forward_polymer(a.monomers, a.polymer_class)}


def _retro(view: KBView, a: RetroArgs) -> dict:
    return {"routes": [{"polymer_class": r.polymer_class, "monomers": list(r.monomers), "rule": r.rule}
                       for r in synthesis.retro_monomers(a.polymer)]}


def _classes(view: KBView, a: MonomerClassArgs) -> dict:
    return {"classes": synthesis.monomer_classes(a.monomer)}


def _sql(view: KBView, a: SQLArgs) -> dict:
    res = run_readonly_sql(Path(view.paths.db), a.sql, max_rows=a.max_rows,
                           hidden_splits=frozenset(view.hidden_splits), hidden_polymer_ids=view.hidden_polymer_ids)
    return {"columns": res.columns, "rows": json.loads(json.dumps(res.rows, default=str)), "truncated": res.truncated,
            **({"note": res.note} if res.note else {})}


def tool_specs(estimate_ctx: Any = None) -> list[ToolSpec]:
    """Every tool an agent gets (property estimates only with an EstimateContext)."""
    specs = [
        _typed(structure.validate_polymer, structure.ValidateArgs),
        _typed(structure.describe_polymer, structure.DescribeArgs),
        _typed(structure.compare_polymers, structure.CompareArgs),
        _typed(structure.substructure_search, structure.SubstructureArgs),
        _typed(lookup.get_property_values, lookup.PropertyValuesArgs),
        _typed(lookup.find_polymers, lookup.FindArgs),
        _typed(lookup.property_info, lookup.PropertyInfoArgs),
        _typed(lookup.polymer_record, lookup.PolymerRecordArgs),
        _typed(similarity.similar_polymers, similarity.SimilarArgs),
        _typed(similarity.text_search, similarity.TextSearchArgs),
        ToolSpec("forward_synthesis", ForwardArgs, _forward,
                 "The repeat unit(s) that one or two monomers give by a polymerization class (SMiPoly rules). "
                 "Use it to check a proposed route or to build a polymer from monomers."),
        ToolSpec("retro_synthesis", RetroArgs, _retro,
                 "Monomers that could make a polymer, by linkage-based disconnection rules (ester -> diacid + "
                 "diol, imide -> dianhydride + diamine, vinyl -> vinyl monomer, ...), with the polymerization class."),
        ToolSpec("monomer_classes", MonomerClassArgs, _classes,
                 "The SMiPoly monomer classes of a monomer (vinyl, diol, diCOOH, diamin, diNCO, dicAnhyd, epo, ...)."),
        ToolSpec("sql", SQLArgs, _sql,
                 "Run one read-only SELECT on the polymer KB (tables: " + ", ".join(sorted(ALLOWED_TABLES)) +
                 "). Use it only when no other tool answers the question; results are limited to 200 rows."),
    ]
    if estimate_ctx is not None:
        from tools.estimate import EstimateArgs, estimate_property

        specs.append(ToolSpec("estimate_property", EstimateArgs,
                              lambda view, a: estimate_property(a, estimate_ctx), _doc(estimate_property)))
    return specs


def build_tools(view: KBView, estimate_ctx: Any = None) -> list[BaseTool]:
    """The tool set an agent gets for one KB view (pass an EstimateContext to add property estimates)."""
    return [as_langchain_tool(spec, view) for spec in tool_specs(estimate_ctx)]
