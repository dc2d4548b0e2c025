"""Every tool as a LangChain StructuredTool: typed arguments, a description to choose by, and a ToolResult.

A tool never raises at the agent: ToolError (and any PolyBenchError) becomes ToolResult(ok=False, error=...)
whose message tells the model what to fix. Unexpected exceptions are NOT caught here: they are bugs.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field

from kb.errors import PolyBenchError
from tools import lookup, similarity, structure, synthesis
from tools.connections import kb_version
from tools.kb_view import KBView
from tools.schema import Provenance, ToolResult
from tools.sql import ALLOWED_TABLES, run_readonly_sql


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ForwardArgs(_Args):
    monomers: list[str] = Field(min_length=1, max_length=2, description="one or two monomer SMILES")
    polymer_class: str = Field(description=f"one of {', '.join(synthesis.POLYMER_CLASSES)}")


class RetroArgs(_Args):
    polymer: str = Field(description="repeat-unit SMILES with two * ends")


class MonomerClassArgs(_Args):
    monomer: str = Field(description="monomer SMILES, e.g. OCCO")


class SQLArgs(_Args):
    sql: str = Field(description="one read-only SELECT (or WITH ... SELECT) over the allowed tables")
    max_rows: int = Field(50, ge=1, le=200)


def _result(tool: str, run: Callable[[], object], view: KBView) -> str:
    """Run a tool body; a ToolResult as compact JSON text (the model reads text)."""
    try:
        data = run()
    except PolyBenchError as exc:
        return ToolResult(ok=False, tool=tool, error=str(exc)).model_dump_json(exclude_none=True)
    provenance = getattr(data, "provenance", None) or Provenance(kb_version=kb_version(view))
    payload = data.model_dump(mode="json", exclude={"provenance"}) if isinstance(data, BaseModel) else data
    return ToolResult(ok=True, tool=tool, data=payload, provenance=provenance).model_dump_json(exclude_none=True)


def _doc(fn: Callable) -> str:
    return " ".join(inspect.getdoc(fn).split())


def _typed(view: KBView, fn: Callable, args_model: type[BaseModel]) -> BaseTool:
    """A LangChain tool named after a typed tool function, described by its docstring."""
    name = fn.__name__

    def run(**kwargs) -> str:
        return _result(name, lambda: fn(view, args_model(**kwargs)), view)

    return StructuredTool.from_function(func=run, name=name, description=_doc(fn), args_schema=args_model)


def build_tools(view: KBView, estimate_ctx=None) -> list[BaseTool]:
    """The tool set an agent gets for one KB view (pass an EstimateContext to add property estimates)."""
    tools = [
        _typed(view, structure.validate_polymer, structure.ValidateArgs),
        _typed(view, structure.describe_polymer, structure.DescribeArgs),
        _typed(view, structure.compare_polymers, structure.CompareArgs),
        _typed(view, structure.substructure_search, structure.SubstructureArgs),
        _typed(view, lookup.get_property_values, lookup.PropertyValuesArgs),
        _typed(view, lookup.find_polymers, lookup.FindArgs),
        _typed(view, lookup.property_info, lookup.PropertyInfoArgs),
        _typed(view, lookup.polymer_record, lookup.PolymerRecordArgs),
        _typed(view, similarity.similar_polymers, similarity.SimilarArgs),
        _typed(view, similarity.text_search, similarity.TextSearchArgs),
    ]

    def forward(**kw) -> str:
        a = ForwardArgs(**kw)
        return _result("forward_synthesis", lambda: {"repeat_units": synthesis.forward_polymer(
            a.monomers, a.polymer_class)}, view)

    def retro(**kw) -> str:
        a = RetroArgs(**kw)
        return _result("retro_synthesis", lambda: {"routes": [
            {"polymer_class": r.polymer_class, "monomers": list(r.monomers), "rule": r.rule}
            for r in synthesis.retro_monomers(a.polymer)]}, view)

    def classes(**kw) -> str:
        a = MonomerClassArgs(**kw)
        return _result("monomer_classes", lambda: {"classes": synthesis.monomer_classes(a.monomer)}, view)

    def sql(**kw) -> str:
        a = SQLArgs(**kw)

        def body() -> dict:
            res = run_readonly_sql(Path(view.paths.db), a.sql, max_rows=a.max_rows,
                                   hidden_splits=frozenset(view.hidden_splits))
            return {"columns": res.columns, "rows": json.loads(json.dumps(res.rows, default=str)),
                    "truncated": res.truncated}

        return _result("sql", body, view)

    tools += [
        StructuredTool.from_function(func=forward, name="forward_synthesis", args_schema=ForwardArgs, description=(
            "The repeat unit(s) that one or two monomers give by a polymerization class (SMiPoly rules). "
            "Use it to check a proposed route or to build a polymer from monomers.")),
        StructuredTool.from_function(func=retro, name="retro_synthesis", args_schema=RetroArgs, description=(
            "Monomers that could make a polymer, by linkage-based disconnection rules (ester -> diacid + diol, "
            "imide -> dianhydride + diamine, vinyl -> vinyl monomer, ...), with the polymerization class.")),
        StructuredTool.from_function(func=classes, name="monomer_classes", args_schema=MonomerClassArgs,
                                     description="The SMiPoly monomer classes of a monomer (vinyl, diol, "
                                                 "diCOOH, diamin, diNCO, dicAnhyd, epo, ...)."),
        StructuredTool.from_function(func=sql, name="sql", args_schema=SQLArgs, description=(
            "Run one read-only SELECT on the polymer KB (tables: " + ", ".join(sorted(ALLOWED_TABLES)) +
            "). Use it only when no other tool answers the question; results are limited to 200 rows.")),
    ]
    if estimate_ctx is not None:
        from tools.estimate import EstimateArgs, estimate_property

        def estimate(**kw) -> str:
            return _result("estimate_property", lambda: estimate_property(EstimateArgs(**kw), estimate_ctx), view)

        tools.append(StructuredTool.from_function(func=estimate, name="estimate_property", args_schema=EstimateArgs,
                                                  description=_doc(estimate_property)))
    return tools
