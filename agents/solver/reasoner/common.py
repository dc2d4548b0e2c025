"""Sub-plans shared by the category modules: describe a polymer, get one property value (measured when the
view shows it, else estimated), recall a property's definition, run forward synthesis."""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass, field

from rdkit import Chem

from agents.schema import Answer, PolymerRef, Skill
from agents.solver.reasoner.core import Observation, ReasonerTools, call, num, say
from kb.properties import get_property
from kb.units import UnitError, convert

Sub = Generator  # Generator[Step, Observation, T]: a sub-plan run with `yield from`


def label_of(ref: PolymerRef) -> str:
    """How a step names a polymer: its label (and name when the question shows one)."""
    who = "the polymer" if ref.label == "polymer" else f"polymer {ref.label}"
    return f"{who} ({ref.name})" if ref.name else who


def describe(ref: PolymerRef | str, sub: str | None = None,
             skill: Skill = "parse-structure") -> Sub:
    """describe_polymer of a polymer; returns the Observation."""
    psmiles = ref.psmiles if isinstance(ref, PolymerRef) else ref
    who = f"{label_of(ref)}, {psmiles}" if isinstance(ref, PolymerRef) else psmiles
    obs = yield call(skill, f"Describe the repeat unit of {who}: composition, groups, backbone, class.",
                     "describe_polymer", {"polymer": psmiles}, sub)
    return obs


def structure_fact(ref: PolymerRef, obs: Observation) -> str:
    """The structural part of a polymer's knowledge profile as one sentence (from describe_polymer)."""
    d = obs.data
    f = d.get("features") or {}
    groups = ", ".join(f"{g} x{n}" for g, n in sorted((d.get("groups") or {}).items())) or "none"
    what = f"classified as {d['polymer_class']}" if d.get("polymer_class") else "of no clear class"
    linkages = ", ".join(d.get("backbone_linkages") or []) or "none"
    who = label_of(ref)
    parts = [f"{who[:1].upper()}{who[1:]} is {what} (backbone linkages: {linkages}); groups: {groups}"]
    shown = [f"{k.replace('_', ' ')} {num(float(v))}" for k, v in f.items()
             if k in ("mw", "aromatic_rings", "rings", "tpsa", "fraction_sp3", "backbone_atoms") and v is not None]
    if shown:
        parts.append("; ".join(shown))
    return ". ".join(parts) + "."


def group_counts(obs: Observation) -> dict[str, int]:
    """Functional group / linkage counts of a describe_polymer observation (present ones only)."""
    return {k: int(v) for k, v in (obs.data.get("groups") or {}).items() if v}


def feature(obs: Observation, name: str) -> float | str | None:
    return (obs.data.get("features") or {}).get(name)


@dataclass
class Value:
    """One property value of one polymer as the reasoning found it."""

    value: float | None
    unit: str
    how: str                        # measured / estimated / analogue / none
    fact: str                       # the sentence stating it (numbers copied from the tool output)
    lower: float | None = None
    upper: float | None = None
    sources: list[str] = field(default_factory=list)


def definition(tools: ReasonerTools, prop: str, sub: str | None = None) -> Sub:
    """property_info of the property (definition, unit, range); returns the Observation."""
    obs = yield call("recall-definition", f"Recall what {prop} means and its unit.", "property_info",
                     {"name": prop}, sub)
    return obs


def property_value(tools: ReasonerTools, ref: PolymerRef, prop: str, kind: str | None, unit: str | None,
                   sub: str | None = None) -> Sub:
    """The polymer's median measured value of one kind when the view shows one, else the surrogate estimate
    (with interval and nearest analogues), else the value of the closest measured analogue; the fact is
    stated right away in a step of its own (no tool call), answering `sub` with the number."""
    v = yield from _find_value(tools, ref, prop, kind, unit, sub)
    answer = Answer(type="number", number=float(f"{v.value:.6g}"), unit=v.unit) if v.value is not None else None
    skill = "look-up-property" if v.how == "measured" else "estimate-property"
    yield say(skill, v.fact, None, sub if answer else None, answer)  # type: ignore[arg-type]
    return v


def _find_value(tools: ReasonerTools, ref: PolymerRef, prop: str, kind: str | None, unit: str | None,
                sub: str | None = None) -> Sub:
    """property_value's search, without stating the result."""
    unit = unit or get_property(prop).unit
    who, what = label_of(ref), f"{kind + ' ' if kind else ''}{prop}"
    args = {"polymer": ref.psmiles, "property": prop, "unit": unit, **({"kind": kind} if kind else {})}
    obs = yield call("look-up-property", f"Look up the measured {what} of {who} in the knowledge base.",
                     "get_property_values", args, sub)
    if obs.ok:
        rows = [s for s in obs.data.get("summary") or [] if kind is None or s.get("kind") == kind]
        if rows:
            row = rows[0]
            sources = sorted({m.get("source_id") for m in obs.data.get("values") or []
                              if m.get("kind") == row["kind"] and m.get("source_id")})
            fact = (f"The KB's median {row['kind']} {prop} of {who} is {num(row['median'])} {unit} "
                    f"({row['n']} value{'s' if row['n'] != 1 else ''}; sources: {', '.join(sources[:3]) or 'KB'}).")
            return Value(float(row["median"]), unit, "measured", fact, sources=sources)
    if tools.has("estimate_property"):
        est = yield call("estimate-property", f"No measured {what} of {who} is visible: estimate it from the "
                         "structure with the surrogate model and look at its nearest analogues.", "estimate_property",
                         {"polymer": ref.psmiles, "property": prop, "unit": unit, "n_neighbours": 3,
                          **({"kind": kind} if kind else {})}, sub)
        if est.ok:
            d = est.data
            near = [n for n in d.get("neighbours") or [] if n.get("measured_value") is not None]
            analogues = "; ".join(f"{n.get('name') or n['psmiles']} (similarity {num(n['similarity'])}): "
                                  f"{num(n['measured_value'])} {unit}" for n in near[:3])
            fact = (f"The surrogate model estimates the {what} of {who} at {num(d['value'])} {unit} "
                    f"(interval {num(d['lower'])} to {num(d['upper'])}, {d['domain']})"
                    + (f"; nearest measured analogues: {analogues}." if analogues else "."))
            return Value(float(d["value"]), unit, "estimated", fact, float(d["lower"]), float(d["upper"]))
    return (yield from analogue_value(ref, prop, kind, unit, sub))


_VALUE = re.compile(r"^\s*(-?[\d.]+(?:e[-+]?\d+)?)\s*(.*)$")


def analogue_value(ref: PolymerRef, prop: str, kind: str | None, unit: str, sub: str | None = None) -> Sub:
    """The value of the most similar KB polymer with a visible value of the property (and kind)."""
    who = label_of(ref)
    obs = yield call("estimate-property", f"No estimate available: take the most similar KB polymers to {who} "
                     f"with a measured {kind + ' ' if kind else ''}{prop} as analogues.", "similar_polymers",
                     {"polymer": ref.psmiles, "k": 5, "property": prop, **({"kind": kind} if kind else {})}, sub)
    neighbours = [n for n in (obs.data.get("neighbours") or [] if obs.ok else []) if n.get("key") != ref.psmiles]
    for n in neighbours:
        for name, text in (n.get("values") or {}).items():
            p, _, k = name.partition(" (")
            if p != prop or (kind and k.rstrip(")") != kind):
                continue
            m = _VALUE.match(text)
            if not m:
                continue
            try:
                value = convert(float(m.group(1)), m.group(2).strip() or unit, unit)
            except (UnitError, ValueError):
                continue
            fact = (f"The closest measured analogue of {who}, {n.get('name') or n['key']} (similarity "
                    f"{num(n['similarity'])}), has {name} = {text}.")
            return Value(value, unit, "analogue", fact)
    return Value(None, unit, "none", f"No value of {prop} could be found or estimated for {who}.")


def forward(monomers: list[str], polymer_class: str, sub: str | None = None,
            skill: Skill = "select-monomers", why: str = "") -> Sub:
    """forward_synthesis; returns the canonical repeat units it made (empty on failure)."""
    obs = yield call(skill, f"Apply {polymer_class} polymerization to {' + '.join(monomers)}{why}.",
                     "forward_synthesis", {"monomers": monomers, "polymer_class": polymer_class}, sub)
    return [canonical(u) for u in (obs.data.get("repeat_units") or [])] if obs.ok else []


def canonical(text: str) -> str | None:
    """The canonical repeat-unit key of a string (for comparing a tool's product with a polymer)."""
    from agents.answers import polymer_key

    return polymer_key(text)


def smiles_in(text: str) -> str:
    """The SMILES of a monomer as an option writes it: 'name (SMILES)' or the bare SMILES."""
    text = text.strip()
    if text.endswith(")"):
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(text[i], 0)
            if depth == 0:
                inner = text[i + 1:-1]
                if i > 0 and text[i - 1] == " " and Chem.MolFromSmiles(inner) is not None:
                    return inner
                break
    return text


def monomers_in(text: str) -> list[str]:
    """The monomer SMILES of an option's monomer set ('A + B' or 'A alone')."""
    text = text.strip()
    if text.endswith(" alone"):
        return [smiles_in(text[: -len(" alone")])]
    return [smiles_in(part) for part in text.split(" + ")]
