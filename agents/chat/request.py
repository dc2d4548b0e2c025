"""A rule-based reader of free-text design requests: "a polyimide with Tg above 250 °C and no fluorine".

It finds property ranges (properties and units from the KB's registry, bounds checked against the
property's plausible range), required / forbidden groups ("no fluorine", "containing ester"), polymer
classes ("polyimide"), and says plainly what it did not understand: an unknown property, an impossible
range, a unit it cannot convert, SQL (never run from the chat), or text with no request in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.backbone_class import POLYMER_CLASSES
from kb.errors import PolyBenchError
from kb.features import GROUP_COLUMNS
from kb.properties import PROPERTIES, PropertyDef
from kb.units import canonical_unit_name, convert
from tools.constraint_sql import group_column
from tools.schema import Constraint

# Phrases people use for registry properties beyond their names and descriptions.
ALIASES = {"tg": "tg", "glass transition": "tg", "glass-transition": "tg", "free volume": "ffv",
           "band gap": "bandgap_chain", "bandgap": "bandgap_chain", "permittivity": "dielectric_constant",
           "heat capacity": "cp", "modulus": "bulk_modulus", "viscosity": "melt_viscosity",
           "conductivity": "thermal_conductivity"}
_GAS_WORDS = {"helium": "he", "hydrogen": "h2", "oxygen": "o2", "nitrogen": "n2", "carbon dioxide": "co2",
              "methane": "ch4", "water": "h2o"}
for _word, _gas in _GAS_WORDS.items():
    ALIASES[f"{_word} permeability"] = f"perm_{_gas}"
    ALIASES[f"{_gas} permeability"] = f"perm_{_gas}"

_ABOVE = r"above|over|greater than|more than|higher than|larger than|exceeding|at least|min(?:imum)?|>=|>|≥"
_BELOW = r"below|under|less than|lower than|smaller than|at most|max(?:imum)?|<=|<|≤"
_NUM = r"[-+−]?\d+(?:[.,]\d+)?(?:[eE][-+−]?\d+)?"
_BOUND = re.compile(rf"(?P<cmp>{_ABOVE}|{_BELOW})\s*(?P<num>{_NUM})\s*(?P<unit>[^\s,;]*(?:\s[^\s,;]+)?)?",
                    re.IGNORECASE)
_BETWEEN = re.compile(rf"between\s+(?P<lo>{_NUM})\s*(?P<u1>[^\s,;]*)\s+and\s+(?P<hi>{_NUM})\s*(?P<u2>[^\s,;]*)",
                      re.IGNORECASE)
_FORBID = re.compile(r"\b(?:no|without|free of|not containing|excluding|avoid(?:ing)?)\s+(?:any\s+)?"
                     r"([a-z][a-z_\- ]*?)(?=\s*(?:,|;|\.|$|\band\b|\bwith\b|\bfrom\b|\bnow\b|\bbut\b))"
                     r"|\b([a-z]+)-free\b", re.IGNORECASE)
_REQUIRE = re.compile(r"\b(?:with|containing|contains|having|bearing)\s+(?:an?\s+|some\s+)?([a-z][a-z_\-]*)"
                      r"(?:\s+(?:groups?|linkages?|units?|rings?))?", re.IGNORECASE)
_SQL = re.compile(r"\b(select|insert|update|delete|drop|alter|create|attach|pragma|copy)\b[\s\S]*?"
                  r"\b(from|into|table|set|database|where)\b|;\s*--|\bsql\b", re.IGNORECASE)
_FOLLOW_UP = re.compile(r"^\s*(?:now|also|and|additionally|plus|but|then|same|as before)\b|\balso\b", re.IGNORECASE)
_CLAUSE = re.compile(r"\s*(?:,|;|\band\b(?!\s+\d)|\bwith\b|\bbut\b|\bnow also\b|\balso\b)\s*", re.IGNORECASE)


@dataclass
class DesignRequest:
    """What one chat message asked for, what was understood, and what was not (each in words)."""

    constraints: list[Constraint] = field(default_factory=list)
    understood: list[str] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)
    follow_up: bool = False
    sql: bool = False

    @property
    def usable(self) -> bool:
        """A request the search can run: at least one constraint and nothing impossible or unknown."""
        return bool(self.constraints) and not self.not_understood and not self.sql


def property_phrases() -> list[tuple[str, str]]:
    """(phrase, property name), longest phrase first: names, descriptions and aliases."""
    pairs = {**ALIASES}
    for p in PROPERTIES.values():
        pairs.setdefault(p.name.replace("_", " "), p.name)
        pairs.setdefault(p.name, p.name)
        pairs.setdefault(p.description.split(" (")[0].lower(), p.name)
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


_PHRASES = property_phrases()


def group_name(word: str) -> str:
    """The KB's own name of a group a person wrote ("fluorine" -> "fluoro"), as describe_polymer reports it."""
    column = group_column(word)
    return next((name for name, col in GROUP_COLUMNS.items() if col == column), word)


def find_property(text: str) -> PropertyDef | None:
    """The registry property a clause names (longest phrase wins), or None."""
    low = text.lower()
    for phrase, name in _PHRASES:
        if re.search(rf"(?<![a-z0-9_]){re.escape(phrase)}(?![a-z0-9_])", low):
            return PROPERTIES[name]
    return None


def _number(text: str) -> float:
    return float(text.replace("−", "-").replace(",", "."))


def _unit(text: str | None, prop: PropertyDef) -> str | None:
    """The canonical unit written after a number (None: none written, the property's own unit is meant)."""
    words = (text or "").strip().rstrip(".").split()
    for n in range(len(words), 0, -1):
        candidate = " ".join(words[:n]).replace("^", "")
        try:
            return canonical_unit_name(candidate)
        except PolyBenchError:
            continue
    if words and prop.unit not in ("-", "") and words[0][:1].isalpha() is False:
        raise PolyBenchError(f"unknown unit {words[0]!r}")
    return None


def _range(clause: str, prop: PropertyDef, request: DesignRequest) -> Constraint | None:
    """The property range one clause states, or None (with what was not understood recorded)."""
    low = high = None
    unit_text = None
    between = _BETWEEN.search(clause)
    if between:
        low, high = _number(between["lo"]), _number(between["hi"])
        unit_text = between["u2"] or between["u1"]
    else:
        for m in _BOUND.finditer(clause):
            value = _number(m["num"])
            if re.fullmatch(_ABOVE, m["cmp"], re.IGNORECASE):
                low = value
            else:
                high = value
            unit_text = unit_text or m["unit"]
    if low is None and high is None:
        return None
    try:
        unit = _unit(unit_text, prop)
        bounds = [convert(b, unit, prop.unit) if (b is not None and unit) else b for b in (low, high)]
    except PolyBenchError as exc:
        request.not_understood.append(f"{clause.strip()!r}: {exc} for {prop.name} (its unit is {prop.unit})")
        return None
    lo_c, hi_c = bounds
    problem = None
    if lo_c is not None and hi_c is not None and lo_c > hi_c:
        problem = "the lower bound is above the upper bound"
    elif lo_c is not None and lo_c > prop.max_value or hi_c is not None and hi_c < prop.min_value:
        problem = f"no polymer can have it: the plausible range of {prop.name} is {prop.min_value:g}-{prop.max_value:g} {prop.unit}"
    if problem:
        request.not_understood.append(f"{clause.strip()!r}: impossible range ({problem})")
        return None
    return Constraint(type="property_range", property=prop.name, min=low, max=high,
                      unit=unit if unit and unit != prop.unit else None)


def parse_request(text: str) -> DesignRequest:
    """Read one chat message into design constraints, saying what was and was not understood."""
    request = DesignRequest(follow_up=bool(_FOLLOW_UP.search(text or "")))
    if _SQL.search(text or ""):
        request.sql = True
        request.not_understood.append("SQL is never run from the chat; ask in words (the tools run their own queries)")
        return request
    rest = text or ""
    for m in _FORBID.finditer(text or ""):
        word = (m.group(1) or m.group(2) or "").strip()
        try:
            group_column(word)
        except PolyBenchError:
            if find_property(word) is None and not re.search(_NUM, word):
                request.not_understood.append(f"group {word!r} is not one the KB knows")
            continue
        request.constraints.append(Constraint(type="forbid_group", group=group_name(word)))
        request.understood.append(f"no {word}")
        rest = rest.replace(m.group(0), " ")
    for m in _REQUIRE.finditer(rest):
        word = m.group(1)
        try:
            group_column(word)
        except PolyBenchError:
            continue  # "with Tg above ...": not a group; the property reader takes it
        request.constraints.append(Constraint(type="require_group", group=group_name(word)))
        request.understood.append(f"contains {word}")
        rest = rest.replace(m.group(0), " ")
    for name in POLYMER_CLASSES:
        if name != "other" and re.search(rf"\b{name}s?\b", rest, re.IGNORECASE):
            request.constraints.append(Constraint(type="polymer_class", value=name))
            request.understood.append(f"class {name}")
    if re.search(r"\bmonomers?\b", rest, re.IGNORECASE):
        request.understood.append("monomers: each candidate is a KB polymer shown with its monomers and route")
    for clause in _CLAUSE.split(rest):
        if not re.search(_NUM, clause) or not (_BOUND.search(clause) or _BETWEEN.search(clause)):
            continue
        prop = find_property(clause)
        if prop is None:
            subject = re.split(rf"\s*(?:{_ABOVE}|{_BELOW}|between)\b", clause, maxsplit=1, flags=re.IGNORECASE)[0]
            subject = re.sub(r"^(?:a|an|the|polymer|polymers|now|also|only)\s+", "", subject.strip(), flags=re.IGNORECASE)
            request.not_understood.append(f"property {subject or clause.strip()!r} is not in the KB's registry")
            continue
        constraint = _range(clause, prop, request)
        if constraint is not None:
            request.constraints.append(constraint)
            request.understood.append(constraint.describe())
    return request


def merge(previous: list[Constraint], new: list[Constraint]) -> list[Constraint]:
    """A follow-up's constraints on top of the previous ones (a new range of the same property replaces it)."""
    replaced = {c.property for c in new if c.type == "property_range"}
    kept = [c for c in previous if not (c.type == "property_range" and c.property in replaced)]
    return kept + [c for c in new if c not in kept]
