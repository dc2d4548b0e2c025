"""One parameterised SQL query from a list of design Constraints (the engine of lookup.find_polymers).

User values (bounds, kinds, classes, licence text) only ever travel as parameters. The only text put into
the SQL are column names taken from kb.features.GROUP_COLUMNS (an allow-list) and fixed fragments.
Range bounds in any unit are converted to the property's canonical unit first. A range holds for a polymer
when its median (per kind, over visible measurements passing the kind / licence filters) lies in it. A class
holds when SMiPoly generated the polymer with that class or the backbone rule gives it (kb.backbone_class,
read from the structure index); those ids are registered as Arrow tables, not sent as text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kb.backbone_class import POLYMER_CLASSES
from kb.features import FEATURE_COLUMNS, GROUP_COLUMNS
from kb.units import UnitError, convert
from tools.connections import connection, kb_version, measurements_table, medians_table
from tools.errors import ToolError
from tools.kb_view import KBView
from tools.resolve import checked_property, close_names, smipoly_ids
from tools.schema import Constraint
from tools.structure_index import structure_index

KIND_ORDER = "CASE kind WHEN 'experimental' THEN 0 WHEN 'md_simulated' THEN 1 WHEN 'dft' THEN 2 ELSE 3 END"
GROUP_ALIASES = {"fluorine": "fluoro", "chlorine": "chloro", "bromine": "bromo", "benzene": "phenyl",
                 "aromatic": "aromatic_ring", "hydroxy": "hydroxyl", "alcohol": "hydroxyl",
                 "carboxyl": "carboxylic_acid", "acid": "carboxylic_acid", "sulfide": "thioether",
                 "carbamate": "urethane", "cyano": "nitrile", "halogen": "halogens"}
_EXTRA_COLUMNS = {"halogens": "halogens"}  # feature columns usable as groups beyond GROUP_COLUMNS
_CLASS_IDS: dict[tuple[str, str, str], pa.Table] = {}


def group_column(name: str) -> str:
    """The features column of a group name (or alias / plural / column name); ToolError if unknown."""
    text = name.strip().lower().replace(" ", "_").replace("-", "_")
    for candidate in (text, text.removesuffix("s"), text.removeprefix("n_"), GROUP_ALIASES.get(text, "")):
        if candidate in GROUP_COLUMNS:
            return GROUP_COLUMNS[candidate]
        if candidate in _EXTRA_COLUMNS:
            return _EXTRA_COLUMNS[candidate]
    allowed = sorted(GROUP_COLUMNS) + sorted(_EXTRA_COLUMNS)
    close = close_names(text, allowed)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ToolError(f"unknown group {name!r}; {hint}groups are: {', '.join(allowed)}")


def checked_class(name: str) -> str:
    """A polymer class name this tool knows; ToolError with the allowed names otherwise."""
    text = name.strip().lower()
    if text in POLYMER_CLASSES:
        return text
    close = close_names(text, list(POLYMER_CLASSES))
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ToolError(f"unknown polymer class {name!r}; {hint}classes are: {', '.join(POLYMER_CLASSES)}")


@dataclass(frozen=True)
class RangeFilter:
    """One property range in canonical units, with the kind and licence filters its values must pass."""

    prop: str
    kind: str | None
    low: float | None
    high: float | None
    licences: tuple[str, ...]

    def measurements(self, source: str) -> tuple[str, list]:
        """SQL selecting polymer_id, kind, value, source_id of the values this range looks at."""
        sql = f"SELECT polymer_id, kind, value, source_id FROM {source} WHERE property = ?"
        params: list = [self.prop]
        if self.kind:
            sql, params = sql + " AND kind = ?", [*params, self.kind]
        for text in self.licences:
            sql, params = sql + " AND contains(lower(licence), ?)", [*params, text]
        return sql, params

    def bounds(self) -> tuple[str, list]:
        """The SQL condition on `value` for the bounds that are set (absent bounds leave no placeholder,
        so the optimizer sees plain comparisons it can push into the scan)."""
        tests = [(f"value {op} ?", bound) for op, bound in ((">=", self.low), ("<=", self.high)) if bound is not None]
        return " AND ".join(t for t, _ in tests) or "TRUE", [b for _, b in tests]

    def polymers(self, source: str, medians: str) -> tuple[str, list]:
        """SQL selecting the polymer ids whose median (per kind) lies in the range."""
        bounds, bound_params = self.bounds()
        if self.licences:  # medians over the licensed values only: aggregate the raw rows
            base, params = self.measurements(source)
            sql = (f"SELECT polymer_id FROM (SELECT polymer_id, median(value) AS value FROM ({base}) "
                   f"GROUP BY polymer_id, kind) WHERE {bounds}")
            return sql, [*params, *bound_params]
        kind = " AND kind = ?" if self.kind else ""
        return (f"SELECT polymer_id FROM {medians} WHERE property = ?{kind} AND {bounds}",
                [self.prop, *([self.kind] if self.kind else []), *bound_params])

    def ranks(self, source: str, medians: str) -> tuple[str, list]:
        """SQL of (polymer_id, rank_value): the median of the best kind (experimental first)."""
        if self.licences:
            base, params = self.measurements(source)
            inner = f"SELECT polymer_id, kind, median(value) AS value FROM ({base}) GROUP BY 1, 2"
        else:
            inner = f"SELECT polymer_id, kind, value FROM {medians} WHERE property = ?"
            params = [self.prop]
            if self.kind:
                inner, params = inner + " AND kind = ?", [*params, self.kind]
        return f"SELECT polymer_id, arg_min(value, {KIND_ORDER}) AS rank_value FROM ({inner}) GROUP BY 1", params


@dataclass(frozen=True)
class FindQuery:
    """The ranked, limited candidate query and the property ranges whose values the matches report."""

    sql: str
    params: list
    ranges: list[RangeFilter]
    source: str  # the table of the view's visible measurements

    def values_sql(self, polymer_ids: list[int]) -> tuple[str, list]:
        """SQL of the raw (range index, polymer_id, kind, value, source_id) rows each range looked at, for
        the matches only (aggregating sources for every candidate would double the cost of the query)."""
        parts, params = [], []
        for i, r in enumerate(self.ranges):
            base, base_params = r.measurements(self.source)
            parts.append(f"SELECT {i} AS r, polymer_id, kind, value, source_id FROM ({base}) "
                         "WHERE polymer_id IN (SELECT unnest(?::BIGINT[]))")
            params += [*base_params, polymer_ids]
        return " UNION ALL ".join(parts) + " ORDER BY 1, 2, 3", params


def find_sql(view: KBView, constraints: list[Constraint], rank_by: str | None, rank_kind: str | None,
             descending: bool, limit: int) -> FindQuery:
    """The query selecting polymer_id, n_visible, rank_value, n_total, key, name, split of the best
    `limit` polymers meeting every constraint. Candidates are narrowed with semi-joins on small columns
    first; keys and names are read for the returned rows only."""
    kinds = [c.value for c in constraints if c.type == "data_kind"]
    licences = tuple(c.value.lower() for c in constraints if c.type == "licence" and c.value)
    for kind in kinds:
        if kind not in ("experimental", "md_simulated", "dft", "synthetic"):
            raise ToolError(f"unknown data kind {kind!r}; kinds are experimental, md_simulated, dft, synthetic")
    ranges = []
    for c in (c for c in constraints if c.type == "property_range"):
        prop = checked_property(c.property or "")
        low, high = (_canonical(prop.name, prop.unit, bound, c.unit) for bound in (c.min, c.max))
        ranges.append(RangeFilter(prop.name, c.kind or (kinds[0] if kinds else None), low, high, licences))
    ctes: list[str] = []
    where: list[str] = []
    cte_params: list = []  # placeholders of the CTEs come first in the SQL text, then the WHERE ones
    params: list = []
    source = measurements_table(view) if ranges or rank_by or kinds or licences else ""
    medians = medians_table(view) if ranges or rank_by else ""
    for r in ranges:
        sub, sub_params = r.polymers(source, medians)
        where.append(f"p.polymer_id IN ({sub})")
        params += sub_params
    for c in (c for c in constraints if c.type in ("require_group", "forbid_group")):
        column = group_column(c.group or "")
        assert column in FEATURE_COLUMNS  # allow-listed: the only text that enters the SQL
        test = f"{column} > 0" if c.type == "require_group" else f"{column} = 0"
        where.append(f"p.polymer_id IN (SELECT polymer_id FROM features WHERE {test})")
    for i, c in enumerate(c for c in constraints if c.type == "polymer_class"):
        connection(view).register(f"tool_class_{i}", class_ids(view, checked_class(c.value or "")))
        where.append(f"p.polymer_id IN (SELECT polymer_id FROM tool_class_{i})")
    for kind in kinds or ([None] if licences else []):
        sql = f"SELECT polymer_id FROM {source} WHERE " + ("kind = ?" if kind else "TRUE")
        params += [kind] if kind else []
        for text in licences:
            sql, params = sql + " AND contains(lower(licence), ?)", [*params, text]
        where.append(f"p.polymer_id IN ({sql})")
    join, rank_select, order = "", "NULL::DOUBLE", "n_visible DESC"
    if rank_by:
        r = RangeFilter(checked_property(rank_by).name, rank_kind or (kinds[0] if kinds else None), None, None,
                        licences)
        sub, cte_params = r.ranks(source, medians)
        ctes.append(f"rk AS ({sub})")
        join, rank_select = "LEFT JOIN rk USING (polymer_id)", "rk.rank_value"
        order = f"rank_value {'DESC' if descending else 'ASC'} NULLS LAST, n_visible DESC"
    hidden = sorted(view.hidden_splits)
    tests = ([f"p.split IN ({', '.join('?' * len(hidden))})"] if hidden else []) + (
        [f"p.polymer_id IN ({', '.join(str(int(i)) for i in sorted(view.hidden_polymer_ids))})"]
        if view.hidden_polymer_ids else [])  # ids are ints: inlined
    visible_n = f"CASE WHEN {' OR '.join(tests)} THEN 0 ELSE p.n_measurements END" if tests else "p.n_measurements"
    ctes.append(f"cand AS (SELECT p.polymer_id, {visible_n} AS n_visible, {rank_select} AS rank_value, "
                f"count(*) OVER () AS n_total FROM polymers p {join} "
                f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY {order}, p.polymer_id LIMIT ?)")
    sql = ("WITH " + ",\n".join(ctes) + "\nSELECT c.polymer_id, c.n_visible, c.rank_value, c.n_total, p.key, "
           f"p.name, p.split FROM cand c JOIN polymers p USING (polymer_id) ORDER BY {order}, c.polymer_id")
    return FindQuery(sql, [*cte_params, *hidden, *params, limit], ranges, source)


def class_ids(view: KBView, polymer_class: str) -> pa.Table:
    """Ids of the polymers of a class by SMiPoly's generation class or the backbone rule (cached)."""
    key = (str(view.paths.db), kb_version(view), polymer_class)
    if key not in _CLASS_IDS:
        ids = np.union1d(structure_index(view).ids_of_class(polymer_class), smipoly_ids(view, polymer_class))
        _CLASS_IDS[key] = pa.table({"polymer_id": pa.array(ids, pa.int64())})
    return _CLASS_IDS[key]


def _canonical(prop: str, canonical_unit: str, value: float | None, unit: str | None) -> float | None:
    """A bound converted from the caller's unit to the canonical one; ToolError naming accepted units."""
    if value is None or unit is None:
        return value
    try:
        return convert(value, unit, canonical_unit)
    except UnitError as exc:
        raise ToolError(f"{exc}; give {prop} bounds in {canonical_unit} or a unit of the same kind") from None

