"""A chat candidate assembled by the tools: the checks it passed, its evidence, monomers and route.

Evidence per property constraint: the candidate's measured medians (kinds meeting the range, with their
sources) from polymer_record; a property with no measured value gets estimate_property's value with its
interval and applicability-domain verdict (basis "estimated"). Monomers come from the KB record, else
from retro_synthesis. Every tool failure is kept as a note on the candidate, never hidden.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.tools import BaseTool

from agents.chat.task import request_task
from kb.units import convert
from tools.kb_view import KBView
from tools.schema import Constraint


@dataclass
class Evidence:
    """One value behind a candidate: measured (with its sources) or estimated (with interval and domain)."""

    property: str
    value: float
    unit: str
    kind: str
    basis: Literal["measured", "estimated"]
    sources: str | None = None
    interval: tuple[float, float] | None = None
    n: int = 1
    domain: str | None = None               # estimated: the applicability-domain verdict (in-domain, ...)

    def text(self) -> str:
        """The evidence in one line: value, basis and where it comes from."""
        if self.basis == "estimated" and self.interval is not None:
            return (f"{self.property} ≈ {self.value:.4g} {self.unit} (estimated {self.kind}, interval "
                    f"{self.interval[0]:.4g} to {self.interval[1]:.4g}, {self.domain}; {self.sources})")
        return f"{self.property} = {self.value:.4g} {self.unit} (measured {self.kind}, n={self.n}; {self.sources})"


@dataclass
class Candidate:
    """A ranked polymer with its evidence, monomers and route, and the tools' verdict on the constraints."""

    rank: int
    key: str
    name: str | None
    polymer_id: int | None
    evidence: list[Evidence]
    monomers: list[str]
    route: str | None
    checked: bool
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)    # tool failures met while assembling it


def run_tool(tools: dict[str, BaseTool], name: str, args: dict) -> tuple[dict | None, str | None]:
    """(data, None) of a tool that answered ok, or (None, its error)."""
    result = json.loads(str(tools[name].invoke(args)))
    return (result.get("data"), None) if result.get("ok") else (None, str(result.get("error")))


def check_problems(view: KBView, tools: dict[str, BaseTool], constraints: list[Constraint], key: str) -> list[str]:
    """The tools' verdict on one candidate: a valid repeat unit meeting every constraint (empty: it passes)."""
    from agents.taskgen.templates.design import check_design_answer

    valid, error = run_tool(tools, "validate_polymer", {"polymer": key})
    if valid is None or not valid.get("valid"):
        return [f"{key} is not a valid repeat unit{': ' + error if error else ''}"]
    ok, reasons = check_design_answer(view, request_task(constraints, "check"), key)
    return [] if ok else reasons


def _meets(value: float, c: Constraint, unit: str) -> bool:
    """Whether a value in `unit` (the property's canonical one) lies in the constraint's range."""
    low, high = (convert(b, c.unit, unit) if b is not None and c.unit else b for b in (c.min, c.max))
    return (low is None or value >= low) and (high is None or value <= high)


def measured_evidence(record: dict, c: Constraint) -> list[Evidence]:
    """The candidate's measured medians of the constrained property (the kinds that meet the range, else all)."""
    rows = [r for r in record.get("properties", []) if r["property"] == c.property and c.kind in (None, r["kind"])]
    meeting = [r for r in rows if _meets(float(r["value"]), c, r["unit"])]
    return [Evidence(r["property"], float(r["value"]), r["unit"], r["kind"], "measured", r["sources"], n=int(r["n"]))
            for r in meeting or rows]


def estimated_evidence(tools: dict[str, BaseTool], key: str, c: Constraint) -> tuple[Evidence | None, str | None]:
    """estimate_property's value of the constrained property, with interval and domain (or why there is none)."""
    if "estimate_property" not in tools:
        return None, f"no estimate of {c.property}: the estimate tool is not available"
    est, error = run_tool(tools, "estimate_property", {"polymer": key, "property": c.property,
                                                         **({"kind": c.kind} if c.kind else {})})
    if est is None:
        return None, f"no estimate of {c.property}: {error}"
    model = est["model"]
    return Evidence(est["property"], float(est["value"]), est["unit"], est["kind"], "estimated",
                    sources=f"surrogate {model['name']}, n_train={model['n_train']}, nearest similarity "
                            f"{est['nearest_similarity']:.3g}",
                    interval=(float(est["lower"]), float(est["upper"])), n=0, domain=est["domain"]), None


def route_of(tools: dict[str, BaseTool], key: str, record: dict | None) -> tuple[list[str], str | None, list[str]]:
    """(monomers, route in words, notes): the KB's monomers, else retro_synthesis's first route."""
    monomers = [m["smiles"] for m in (record or {}).get("monomers", [])]
    if monomers:
        classes = sorted({m["polymer_class"] for m in record["monomers"]})  # type: ignore[index]
        return monomers, f"{' + '.join(monomers)} by {', '.join(classes)} polymerization", []
    retro, error = run_tool(tools, "retro_synthesis", {"polymer": key})
    routes = (retro or {}).get("routes", [])
    if not routes:
        return [], None, [f"retro_synthesis: {error}"] if error else []
    first = routes[0]
    return list(first["monomers"]), f"{' + '.join(first['monomers'])} by {first['polymer_class']} (rule {first['rule']})", []


def build_candidate(view: KBView, tools: dict[str, BaseTool], constraints: list[Constraint], key: str,
                    rank: int) -> Candidate:
    """One candidate: checked by the tools, with evidence per property constraint, monomers and route."""
    problems = check_problems(view, tools, constraints, key)
    record, error = run_tool(tools, "polymer_record", {"polymer": key})
    notes = [f"polymer_record: {error}"] if error else []
    evidence: list[Evidence] = []
    for c in constraints:
        if c.type != "property_range":
            continue
        found = measured_evidence(record or {}, c)
        if not found:
            estimate, why = estimated_evidence(tools, key, c)
            found, notes = ([estimate] if estimate else []), notes + ([why] if why else [])
        evidence += found
    monomers, route, more = route_of(tools, key, record)
    return Candidate(rank, (record or {}).get("key", key), (record or {}).get("name"), (record or {}).get("polymer_id"),
                     evidence, monomers, route, checked=not problems, problems=problems, notes=notes + more)


def shortlist(tools: dict[str, BaseTool], constraints: list[Constraint], limit: int) -> tuple[list[str], int, str | None]:
    """(keys, how many KB polymers meet the constraints, error): find_polymers ranked by the first range."""
    ranged = [c for c in constraints if c.type == "property_range"]
    rank: dict[str, Any] = {"rank_by": ranged[0].property, "descending": ranged[0].min is not None} if ranged else {}
    found, error = run_tool(tools, "find_polymers", {"constraints": [c.model_dump(exclude_none=True) for c in constraints],
                                                      "limit": limit, **rank})
    matches = (found or {}).get("matches", [])
    return [m["key"] for m in matches], (found or {}).get("n_total", 0), error

