"""One parameterised SQL query from a list of design Constraints (the engine of lookup.find_polymers).

User values (bounds, kinds, classes, licence text) only ever travel as parameters. The only text put into
the SQL are column names taken from kb.features.GROUP_COLUMNS (an allow-list) and fixed fragments.
Range bounds in any unit are converted to the property's canonical unit first. A range holds for a polymer
when its median (per kind, over visible measurements passing the kind / licence filters) lies in it. A class
holds when SMiPoly generated the polymer with that class or the backbone rule gives it (tools.backbone_class,
read from the structure index); those ids are registered as Arrow tables, not sent as text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kb.features import FEATURE_COLUMNS, GROUP_COLUMNS
from kb.units import UnitError, convert
from tools.backbone_class import POLYMER_CLASSES
from tools.connections import connection, kb_version
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
    """The visible measurements one property range looks at: SQL selecting polymer_id, kind, value, source."""

    prop: str
    sql: str
    params: list


@dataclass(frozen=True)
class FindQuery:
    """The constraint query and, per property range, the measurements it looked at (for the sources)."""

    sql: str
    params: list
    ranges: list[RangeFilter]

    def sources_sql(self, polymer_ids: list[int]) -> tuple[str, list]:
        """SQL of (range index, polymer_id, kind, sources) for the matches only: string_agg over every
        candidate would double the cost of the main query."""
        parts, params = [], []
        for i, r in enumerate(self.ranges):
            parts.append(f"SELECT {i} AS r, polymer_id, kind, string_agg(DISTINCT source_id, '; ' ORDER BY "
                         f"source_id) FROM ({r.sql}) WHERE polymer_id IN (SELECT unnest(?::BIGINT[])) GROUP BY ALL")
            params += [*r.params, polymer_ids]
        return " UNION ALL ".join(parts), params


def find_sql(view: KBView, constraints: list[Constraint], rank_by: str | None, rank_kind: str | None,
             descending: bool, limit: int) -> FindQuery:
    """The query selecting polymer_id, key, name, split, visible measurement count, rank value, number of
    matches, then one list of {kind, value, n} per property range, best first, at most `limit` rows."""
    kinds = [c.value for c in constraints if c.type == "data_kind"]
    licences = [c.value.lower() for c in constraints if c.type == "licence" and c.value]
    for kind in kinds:
        if kind not in ("experimental", "md_simulated", "dft", "synthetic"):
            raise ToolError(f"unknown data kind {kind!r}; kinds are experimental, md_simulated, dft, synthetic")
    ctes: list[str] = []
    cte_params: list = []
    joins: list[str] = []
    where: list[str] = []
    params: list = []
    ranges: list[RangeFilter] = []

    def measured(prop: str | None, kind: str | None) -> RangeFilter:
        """Visible measurements of a property (any if None) passing the kind and licence filters."""
        sql = "SELECT polymer_id, kind, value, source_id FROM measurements WHERE " + (
            "property = ?" if prop else "TRUE")
        args: list = [prop] if prop else []
        if kind:
            sql, args = sql + " AND kind = ?", args + [kind]
        for text in licences:
            sql, args = sql + " AND contains(lower(licence), ?)", args + [text]
        return RangeFilter(prop or "", sql, args)

    for i, c in enumerate(c for c in constraints if c.type == "property_range"):
        prop = checked_property(c.property or "")
        low, high = (_canonical(prop.name, prop.unit, bound, c.unit) for bound in (c.min, c.max))
        base = measured(prop.name, c.kind or (kinds[0] if kinds else None))
        ctes.append(f"""r{i} AS (
            SELECT polymer_id, list(struct_pack(kind := kind, value := value, n := n) ORDER BY kind) AS hits
            FROM (SELECT polymer_id, kind, median(value) AS value, count(*) AS n FROM ({base.sql})
                  GROUP BY polymer_id, kind)
            WHERE (? IS NULL OR value >= ?) AND (? IS NULL OR value <= ?) GROUP BY polymer_id)""")
        cte_params += [*base.params, low, low, high, high]
        joins.append(f"JOIN r{i} USING (polymer_id)")
        ranges.append(base)
    groups = [c for c in constraints if c.type in ("require_group", "forbid_group")]
    if groups:
        joins.append("JOIN features f USING (polymer_id)")
        for c in groups:
            column = group_column(c.group or "")
            assert column in FEATURE_COLUMNS  # allow-listed: the only text that enters the SQL
            where.append(f"f.{column} > 0" if c.type == "require_group" else f"f.{column} = 0")
    for i, c in enumerate(c for c in constraints if c.type == "polymer_class"):
        connection(view).register(f"tool_class_{i}", class_ids(view, checked_class(c.value or "")))
        where.append(f"p.polymer_id IN (SELECT polymer_id FROM tool_class_{i})")
    for kind in kinds or ([None] if licences else []):
        sub = measured(None, kind)
        where.append(f"p.polymer_id IN (SELECT polymer_id FROM ({sub.sql}))")
        params += sub.params
    order = "n_visible DESC"
    rank_select = "NULL::DOUBLE"
    if rank_by:
        base = measured(checked_property(rank_by).name, rank_kind or (kinds[0] if kinds else None))
        ctes.append(f"""rk AS (SELECT polymer_id, arg_min(value, {KIND_ORDER}) AS rank_value
            FROM (SELECT polymer_id, kind, median(value) AS value FROM ({base.sql}) GROUP BY 1, 2) GROUP BY 1)""")
        cte_params += base.params
        joins.append("LEFT JOIN rk USING (polymer_id)")
        rank_select = "rk.rank_value"
        order = f"rk.rank_value {'DESC' if descending else 'ASC'} NULLS LAST, n_visible DESC"
    hidden = sorted(view.hidden_splits)
    visible_n = ("CASE WHEN p.split IN (SELECT unnest(?::VARCHAR[])) THEN 0 ELSE p.n_measurements END"
                 if hidden else "p.n_measurements")
    select = ", ".join(["p.polymer_id", "p.key", "p.name", "p.split", f"{visible_n} AS n_visible", rank_select,
                        "count(*) OVER ()", *(f"r{i}.hits" for i in range(len(ranges)))])
    sql = (("WITH " + ",\n".join(ctes) + "\n") if ctes else "") + (
        f"SELECT {select} FROM polymers p {' '.join(joins)} "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY {order}, p.polymer_id LIMIT ?")
    return FindQuery(sql, cte_params + ([hidden] if hidden else []) + params + [limit], ranges)


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

