"""Look-up tools: property values of a polymer, polymers meeting constraints, property facts, polymer records.

Every query runs on the agent's KBView connection, so measurements of hidden splits do not exist for
these tools: they never show, count or match. User values always travel as SQL parameters; column names
come only from the registry and the feature-column allow-list (tools.constraint_sql builds that query).
"""

from __future__ import annotations

import json
import logging
import statistics
from itertools import groupby

from pydantic import BaseModel, ConfigDict, Field

from kb.properties import PROPERTIES
from kb.units import UnitError, convert, dimension_of, known_units
from tools.connections import connection, kb_version, measurements_table, split_measurements_table
from tools.constraint_sql import find_sql
from tools.errors import ToolError
from tools.kb_view import KBView
from tools.limits import MAX_CONSTRAINTS, PolymerRef, ToolArgs, Word
from tools.resolve import ResolvedPolymer, checked_property, resolve_polymer, smipoly_classes
from tools.schema import Constraint, DataKind, Provenance

logger = logging.getLogger(__name__)

_COUNTS: dict[tuple, dict[str, dict[str, int]]] = {}


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provenance: Provenance = Provenance()


class PropertyValuesArgs(ToolArgs):
    polymer: PolymerRef = Field(description="repeat-unit SMILES (two * ends), KB polymer id, or KB polymer name")
    property: Word = Field(description="registry property name, e.g. tg, density, perm_co2")
    unit: Word | None = Field(None, description="report values in this unit (default: the canonical unit)")
    kind: DataKind | None = Field(None, description="only values of this kind")
    limit: int = Field(50, ge=1, le=500, description="maximum number of measurements listed")


class Measurement(BaseModel):
    value: float
    unit: str
    kind: str
    source_id: str
    original_value: str
    original_unit: str
    temperature_k: float | None = None
    gas: str | None = None
    solvent: str | None = None
    conditions: dict | None = None
    reference: str | None = None


class KindSummary(BaseModel):
    kind: str
    median: float
    min: float
    max: float
    n: int
    unit: str


class PropertyValues(_Result):
    polymer_id: int
    key: str
    name: str | None
    property: str
    unit: str
    values: list[Measurement]
    summary: list[KindSummary]
    n_values: int
    note: str | None = None


class FindArgs(ToolArgs):
    constraints: list[Constraint] = Field(default_factory=list, max_length=MAX_CONSTRAINTS,
                                          description="design constraints, all must hold")
    rank_by: Word | None = Field(None, description="property to rank by (default: most measurements first)")
    descending: bool = Field(True, description="rank_by order: highest first when true")
    rank_kind: DataKind | None = Field(None, description="kind of the rank_by values (default: best available)")
    limit: int = Field(20, ge=1, le=200, description="maximum number of polymers returned")


class MatchValue(BaseModel):
    kind: str
    value: float
    unit: str
    n: int
    sources: str


class PolymerMatch(BaseModel):
    polymer_id: int
    key: str
    name: str | None
    split: str | None
    n_measurements: int
    rank_value: float | None = None
    values: dict[str, list[MatchValue]] = {}
    source_ids: list[str] = []


class PolymerMatches(_Result):
    matches: list[PolymerMatch]
    n_total: int
    constraints: list[str]


class PropertyInfoArgs(ToolArgs):
    name: Word | None = Field(None, description="property name; omit to list every property")


class PropertyEntry(BaseModel):
    name: str
    unit: str
    description: str
    min_value: float
    max_value: float
    higher_is: str | None = None
    log_scale: bool = False
    accepted_units: list[str] = []
    n_polymers: dict[str, int] = {}


class PropertyInfo(_Result):
    properties: list[PropertyEntry]


class PolymerRecordArgs(ToolArgs):
    polymer: PolymerRef = Field(description="repeat-unit SMILES (two * ends), KB polymer id, or KB polymer name")


class SummaryRow(BaseModel):
    property: str
    kind: str
    value: float
    min_value: float
    max_value: float
    unit: str
    n: int
    sources: str


class MonomerRow(BaseModel):
    role: str
    smiles: str
    polymer_class: str
    cid: str | None = None
    iupac_name: str | None = None


class PolymerRecord(_Result):
    polymer_id: int
    key: str
    name: str | None
    status: str
    split: str | None
    names: list[str]
    properties: list[SummaryRow]
    monomers: list[MonomerRow]
    note: str | None = None


def get_property_values(view: KBView, args: PropertyValuesArgs) -> PropertyValues:
    """All KB measurements of one property for one polymer, with provenance and a per-kind summary.

    Use it to look up a measured / simulated value (e.g. the Tg of polystyrene). The polymer may be a KB
    id, a name or any writing of its repeat unit. Each value comes with unit (converted if you ask for a
    unit), kind (experimental, md_simulated, dft, synthetic), source id, original value and unit,
    conditions (temperature, gas, solvent) and reference; the summary gives the median per kind. An empty
    list with a note means the KB has no visible value: estimate it instead.
    """
    prop = checked_property(args.property)
    unit = _checked_unit(prop.name, args.unit) if args.unit else prop.unit
    found, pid = _in_kb(view, args.polymer)
    kind = " AND kind = ?" if args.kind else ""
    rows = [] if not view.visible(pid, found.split) else connection(view).execute(
        "SELECT value, kind, source_id, original_value, original_unit, temperature_k, gas, solvent, conditions, "
        f"reference, duplicate_of IS NOT NULL FROM {measurements_table(view)} WHERE polymer_id = ? AND property = ?"
        f"{kind} ORDER BY kind, source_id, row_index", [pid, prop.name, *([args.kind] if args.kind else [])]).fetchall()
    values = [Measurement(value=_to(v, prop.unit, unit), unit=unit, kind=kind, source_id=src,
                          original_value=ov, original_unit=ou, temperature_k=t, gas=gas, solvent=solvent,
                          conditions=json.loads(cond) if cond else None, reference=ref)
              for v, kind, src, ov, ou, t, gas, solvent, cond, ref, _ in rows]
    copies = [row[-1] for row in rows]  # a value copied from another source file counts once in the median
    summary = []
    for kind in sorted({m.kind for m in values}):
        vs = [m.value for m, copy in zip(values, copies) if m.kind == kind and not copy]
        summary.append(KindSummary(kind=kind, median=statistics.median(vs), min=min(vs), max=max(vs), n=len(vs),
                                   unit=unit))
    note = found.note
    if not values:
        note = _no_values_note(view, found, prop.name, args.kind)
    return PropertyValues(polymer_id=pid, key=found.unit.key, name=found.name, property=prop.name,
                          unit=unit, values=values[: args.limit], summary=summary, n_values=len(values),
                          note=note, provenance=_provenance(view, [pid],
                                                            sorted({m.source_id for m in values})))


def find_polymers(view: KBView, args: FindArgs) -> PolymerMatches:
    """KB polymers that satisfy every constraint, ranked and limited.

    Use it to shortlist candidates for a design task or to answer "which polymers have ...". Constraints:
    property_range (min/max in any unit of the property, optional kind: a polymer matches when its
    median value of some kind lies in the range), require_group / forbid_group (functional groups and
    linkages, e.g. ester, amide, fluoro, phenyl), polymer_class (SMiPoly's class or the backbone-linkage
    class, e.g. polyester), data_kind (has values of that kind; the default kind of the ranges) and
    licence (text in the source licence, e.g. MIT). Ranked by `rank_by` (a property) or by number of
    measurements. Each match has key, name, split, the values that met the ranges and their sources.
    """
    query = find_sql(view, args.constraints, args.rank_by, args.rank_kind, args.descending, args.limit)
    con = connection(view)
    rows = con.execute(query.sql, query.params).fetchall()
    values: dict[int, dict[str, list[MatchValue]]] = {r[0]: {} for r in rows}
    if query.ranges and rows:
        sql, params = query.values_sql([r[0] for r in rows])
        for (i, pid, kind), group in groupby(con.execute(sql, params).fetchall(), key=lambda r: r[:3]):
            items = list(group)
            rng, median = query.ranges[i], statistics.median(r[3] for r in items)
            if _within(median, rng.low, rng.high):  # the kinds whose median met the range
                values[pid].setdefault(rng.prop, []).append(MatchValue(
                    kind=kind, value=median, unit=PROPERTIES[rng.prop].unit, n=len(items),
                    sources="; ".join(sorted({r[4] for r in items}))))
    matches = [PolymerMatch(polymer_id=pid, key=key, name=name, split=split, n_measurements=n, rank_value=rank,
                            values=values[pid], source_ids=sorted({s for vs in values[pid].values() for v in vs
                                                                   for s in v.sources.split("; ")}))
               for pid, n, rank, _, key, name, split in rows]
    return PolymerMatches(matches=matches, n_total=rows[0][3] if rows else 0,
                          constraints=[c.describe() for c in args.constraints],
                          provenance=_provenance(view, [m.polymer_id for m in matches],
                                                 sorted({s for m in matches for s in m.source_ids})))


def property_info(view: KBView, args: PropertyInfoArgs) -> PropertyInfo:
    """What a property means: definition, canonical unit, plausible range, accepted units, KB coverage.

    Use it before a look-up or a constraint to learn the property's name and unit, or without a name to
    list every property the KB knows with how many polymers have visible values per kind.
    """
    counts = _visible_counts(view)
    names = [checked_property(args.name).name] if args.name else list(PROPERTIES)
    entries = []
    for name in names:
        p = PROPERTIES[name]
        entries.append(PropertyEntry(
            name=p.name, unit=p.unit, description=p.description, min_value=p.min_value, max_value=p.max_value,
            higher_is=p.higher_is, log_scale=p.log_scale, n_polymers=counts.get(name, {}),
            accepted_units=_units_like(p.unit) if args.name else []))
    return PropertyInfo(properties=entries, provenance=_provenance(view, []))


def polymer_record(view: KBView, args: PolymerRecordArgs) -> PolymerRecord:
    """Everything the KB holds about one polymer: identity, names, visible property summary, monomers.

    Use it to see which properties a polymer has values for (median per property and kind, with sources)
    and how it can be made (SMiPoly monomers and polymerization class). The polymer may be a KB id, a
    name or any writing of its repeat unit.
    """
    found, pid = _in_kb(view, args.polymer)
    con = connection(view)
    names = [r[0] for r in con.execute(
        "SELECT DISTINCT name FROM polymer_names WHERE polymer_id = ? ORDER BY name LIMIT 20", [pid]).fetchall()]
    props = _summary(con.execute("SELECT property, kind, unit, value, source_id, duplicate_of IS NOT NULL FROM "
                                 f"{measurements_table(view)} "
                                 "WHERE polymer_id = ? ORDER BY property, kind", [pid]).fetchall()
                     ) if view.visible(pid, found.split) else []  # a hidden split's (or task's) polymer shows no value
    monomers = [MonomerRow(role=r[0], smiles=r[1], polymer_class=r[2], cid=r[3], iupac_name=r[4]) for r in con.execute(
        "SELECT DISTINCT pm.role, pm.monomer_smiles, pm.polymer_class, m.cid, m.iupac_name FROM polymer_monomers pm "
        "LEFT JOIN monomers m USING (monomer_id) WHERE pm.polymer_id = ? ORDER BY 1, 2", [pid]).fetchall()
    ] if smipoly_classes(view, pid) else []  # skips a 1M-row scan for the polymers SMiPoly did not make
    status = found.unit.status
    note = found.note
    if not props:
        note = ((note + "; ") if note else "") + "no visible property values for this polymer in this view"
    sources = sorted({s for p in props for s in p.sources.split("; ")})
    return PolymerRecord(polymer_id=pid, key=found.unit.key, name=found.name, status=status, split=found.split,
                         names=names, properties=props, monomers=monomers, note=note,
                         provenance=_provenance(view, [pid], sources))


def _within(value: float, low: float | None, high: float | None) -> bool:
    """low <= value <= high, tolerant to the last-digit difference of DuckDB's and Python's medians."""
    slack = 1e-9 * max(1.0, abs(value))
    return (low is None or value >= low - slack) and (high is None or value <= high + slack)


def _summary(rows: list[tuple]) -> list[SummaryRow]:
    """property_summary's rows (median, range, count, sources per property and kind) from sorted raw rows."""
    out = []
    for (prop, kind), group in groupby(rows, key=lambda r: (r[0], r[1])):
        items = list(group)
        values = [r[3] for r in items if not r[5]]  # a value copied from another source file counts once
        out.append(SummaryRow(property=prop, kind=kind, value=statistics.median(values), min_value=min(values),
                              max_value=max(values), unit=items[0][2], n=len(values),
                              sources="; ".join(sorted({r[4] for r in items}))))
    return out


def _in_kb(view: KBView, polymer: str | int) -> tuple[ResolvedPolymer, int]:
    """The KB polymer named by the caller and its id; ToolError pointing to similarity search if not in the KB."""
    found = resolve_polymer(view, polymer)
    if found.polymer_id is None:
        raise ToolError(f"polymer {found.unit.key} is not in the KB; search for similar KB polymers "
                        "(fingerprint similarity or substructure search) or estimate the property instead")
    return found, found.polymer_id


def _no_values_note(view: KBView, found: ResolvedPolymer, prop: str, kind: str | None) -> str:
    """Why the list is empty, without revealing hidden values: name the visible properties instead."""
    have = [r[0] for r in connection(view).execute(
        f"SELECT DISTINCT property FROM {measurements_table(view)} WHERE polymer_id = ? ORDER BY 1",
        [found.polymer_id]).fetchall()] if view.visible(found.polymer_id, found.split) else []
    what = f"{kind} {prop}" if kind else prop
    if not have:
        return f"no visible measurements of {what} for polymer {found.polymer_id} in this view"
    more = f" and {len(have) - 12} more" if len(have) > 12 else ""
    return (f"no visible measurements of {what} for polymer {found.polymer_id}; "
            f"it has values of: {', '.join(have[:12])}{more}")


def _checked_unit(prop: str, unit: str) -> str:
    """A unit the property's values can be converted to; ToolError listing the accepted ones otherwise."""
    target = PROPERTIES[prop].unit
    try:
        convert(1.0, target, unit)
    except UnitError as exc:
        raise ToolError(f"{exc}; {prop} accepts: {', '.join(_units_like(target))} "
                        "(and ln(...) / log10(...) of them)") from None
    return unit


def _units_like(unit: str) -> list[str]:
    """Every unit of the same dimension as `unit`."""
    dim = dimension_of(unit)
    return [u for u in known_units() if dimension_of(u) == dim]


def _to(value: float, unit: str, target: str) -> float:
    """A value in another unit, to 10 significant figures (SI permeabilities are ~1e-16: no fixed decimals)."""
    return value if unit == target else float(f"{convert(value, unit, target):.10g}")


def _visible_counts(view: KBView) -> dict[str, dict[str, int]]:
    """Polymers with visible values per property and kind (cached per KB version and view)."""
    key = (str(view.paths.db), kb_version(view), view.hidden_splits)  # split-level: one task's set is noise
    if key not in _COUNTS:
        counts: dict[str, dict[str, int]] = {}
        for prop, kind, n in connection(view).execute(
                f"SELECT property, kind, count(DISTINCT polymer_id) FROM {split_measurements_table(view)} "
                "GROUP BY 1, 2").fetchall():
            counts.setdefault(prop, {})[kind] = n
        _COUNTS[key] = counts
    return _COUNTS[key]


def _provenance(view: KBView, polymer_ids: list[int], source_ids: list[str] | None = None) -> Provenance:
    return Provenance(polymer_ids=list(dict.fromkeys(polymer_ids)), source_ids=source_ids or [],
                      kb_version=kb_version(view))
