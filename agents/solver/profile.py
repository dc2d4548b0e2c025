"""The knowledge profile of a polymer: everything the task's view lets the teacher know about it.

Assembled from the same tools the agent calls (so a fact in a profile is a fact a tool would show through
that view): identity and class (describe_polymer), measured values with kind and sources and monomers
(polymer_record), for each asked property the surrogate estimate with its interval and domain plus the
nearest measured analogues (estimate_property), and the property definitions (property_info). A polymer
whose values the view hides (another split, or the task's own polymer under a per-task hidden set) shows
no measured value here either. Reasoning may state only facts that are in a profile or a tool output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from tools.kb_view import KBView
from tools.langchain_tools import ToolSpec, call_tool, tool_specs


class _Fact(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeasuredFact(_Fact):
    property: str
    kind: str
    value: float           # median of the kind
    unit: str
    n: int
    sources: list[str]


class AnalogueFact(_Fact):
    psmiles: str
    name: str | None
    similarity: float
    property: str
    value: float | None    # its measured value, when the view shows it
    unit: str


class EstimateFact(_Fact):
    property: str
    kind: str
    value: float
    lower: float
    upper: float
    unit: str
    domain: str
    out_of_fold: bool      # a training polymer of the model: cross-fitted, not in-sample


class DefinitionFact(_Fact):
    name: str
    unit: str
    description: str


class Profile(_Fact):
    """What may be said about one polymer in one view."""

    psmiles: str
    polymer_id: int | None = None
    name: str | None = None
    polymer_class: str | None = None
    class_rule: str | None = None
    linkages: list[str] = []
    groups: dict[str, int] = {}
    descriptors: dict[str, Any] = {}
    monomers: list[str] = []
    measured: list[MeasuredFact] = []
    estimates: list[EstimateFact] = []
    analogues: list[AnalogueFact] = []
    definitions: list[DefinitionFact] = []
    problems: list[str] = []  # tool failures met while assembling it (kept, not hidden)

    def facts(self) -> list[str]:
        """The profile as short sentences (for a prompt or a standalone chain of thought)."""
        who = f"{self.name} ({self.psmiles})" if self.name else self.psmiles
        groups = ", ".join(f"{g} x{n}" for g, n in sorted(self.groups.items())) or "none"
        out = [f"{who}: class {self.polymer_class or 'unknown'}; backbone linkages "
               + f"{', '.join(self.linkages) or 'none'}; groups {groups}."]
        if self.descriptors:
            out.append("Descriptors: " + ", ".join(f"{k} {v}" for k, v in self.descriptors.items()
                                                   if v is not None) + ".")
        if self.monomers:
            out.append(f"Monomers (SMiPoly): {'; '.join(self.monomers)}.")
        out += [f"Measured {m.kind} {m.property}: {m.value:.4g} {m.unit} (n={m.n}; {', '.join(m.sources[:3])})."
                for m in self.measured]
        out += [f"Estimated {e.kind} {e.property}: {e.value:.4g} {e.unit} ({e.lower:.4g} to {e.upper:.4g}, "
                f"{e.domain}{', out-of-fold' if e.out_of_fold else ''})." for e in self.estimates]
        out += [f"Analogue {a.name or a.psmiles} (similarity {a.similarity:.3g}): {a.property} "
                f"{'hidden' if a.value is None else f'{a.value:.4g} {a.unit}'}." for a in self.analogues]
        out += [f"{d.name} [{d.unit}]: {d.description}" for d in self.definitions]
        return out

    def numbers(self) -> list[float]:
        """Every number the profile states (for the verifier)."""
        found: list[float] = []
        _numbers_in(self.model_dump(), found)
        return found


def _numbers_in(value: Any, found: list[float]) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        found.append(float(value))
    elif isinstance(value, dict):
        for v in value.values():
            _numbers_in(v, found)
    elif isinstance(value, list):
        for v in value:
            _numbers_in(v, found)


def _run(specs: dict[str, ToolSpec], view: KBView, name: str, args: dict, problems: list[str]) -> dict | None:
    result = json.loads(call_tool(specs[name], view, args))
    if not result.get("ok"):
        problems.append(f"{name}: {result.get('error')}")
        return None
    return result["data"]


def knowledge_profile(view: KBView, estimate_ctx: Any, psmiles: str,
                      properties: Sequence[str] = ()) -> Profile:
    """The profile of one polymer through `view` (estimates only with an EstimateContext; `properties`: the
    properties asked about, which get definitions, estimates and analogues)."""
    specs = {s.name: s for s in tool_specs(estimate_ctx)}
    problems: list[str] = []
    profile = Profile(psmiles=psmiles)
    desc = _run(specs, view, "describe_polymer", {"polymer": psmiles}, problems)
    if desc:
        profile.psmiles = desc["key"]
        profile.polymer_id, profile.name = desc.get("polymer_id"), desc.get("name")
        profile.polymer_class, profile.class_rule = desc.get("polymer_class"), desc.get("class_rule")
        profile.linkages, profile.groups = desc.get("backbone_linkages") or [], desc.get("groups") or {}
        profile.descriptors = desc.get("features") or {}
    if profile.polymer_id is not None:
        record = _run(specs, view, "polymer_record", {"polymer": profile.polymer_id}, problems)
        if record:
            profile.measured = [MeasuredFact(property=r["property"], kind=r["kind"], value=r["value"], unit=r["unit"],
                                             n=r["n"], sources=r["sources"].split("; ")) for r in record["properties"]]
            profile.monomers = sorted({f"{m['role']} {m['smiles']} ({m['polymer_class']})" for m in record["monomers"]})
    for prop in properties:
        info = _run(specs, view, "property_info", {"name": prop}, problems)
        if info:
            entry = info["properties"][0]
            profile.definitions.append(DefinitionFact(name=entry["name"], unit=entry["unit"],
                                                      description=entry["description"]))
        if "estimate_property" not in specs:
            continue
        est = _run(specs, view, "estimate_property", {"polymer": profile.psmiles, "property": prop}, problems)
        if est:
            profile.estimates.append(EstimateFact(property=est["property"], kind=est["kind"], value=est["value"],
                                                  lower=est["lower"], upper=est["upper"], unit=est["unit"],
                                                  domain=est["domain"], out_of_fold=est.get("out_of_fold", False)))
            profile.analogues += [AnalogueFact(psmiles=n["psmiles"], name=n.get("name"), similarity=n["similarity"],
                                               property=est["property"], value=n.get("measured_value"),
                                               unit=est["unit"]) for n in est["neighbours"]]
    profile.problems = problems
    return profile
