"""The estimate_property tool: a surrogate prediction with interval, applicability domain and neighbours.

Models are trained per (property, kind) by tools.surrogate_train and loaded once per EstimateContext. The
polymer may be any SMILES / PSMILES writing, in the KB or not: it is canonicalised and featurised on the fly.
Measured values shown beside the neighbours come through the context's KBView, so a test-split agent never
sees a hidden split's values (nor, with a per-task hidden set, the task's own polymers' values).

The estimate of a KB polymer never leans on the polymer itself: it is left out of its own neighbours (and of
the nearest-similarity that decides the domain verdict), and a training polymer of the model gets its
out-of-fold estimate (tools.surrogate_train.out_of_fold), not the in-sample fit.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from kb.assemble import polymer_id_of
from kb.errors import InvalidPolymerError, UnitError, UnknownPropertyError
from kb.properties import get_property
from kb.repeat_unit import to_repeat_unit
from kb.units import convert
from tools.errors import ToolError
from tools.kb_view import KBView
from tools.limits import SmilesText, Word
from tools.schema import SCHEMA_VERSION, DataKind, Provenance
from tools.surrogate_model import ModelCard, SurrogateModel, Verdict
from tools.surrogate_store import StaleModelError, kb_version_of, load_cards, load_model, models_dir_of

log = logging.getLogger(__name__)
_EXAMPLE = "e.g. '*CC(*)c1ccccc1' for polystyrene (two * mark where the repeat unit joins its neighbours)"


class EstimateArgs(BaseModel):
    """Arguments of estimate_property."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    polymer: SmilesText = Field(description="repeat unit as SMILES/PSMILES with two * ends, e.g. *CC(*)c1ccccc1")
    property: Word = Field(description="property name from the registry, e.g. tg, density, ffv, perm_co2")
    kind: DataKind | None = Field(default=None, description="data the model learned from (experimental, "
                                  "md_simulated, dft); default: experimental where a model exists")
    unit: Word | None = Field(default=None, description="unit of the answer (e.g. degC); canonical if omitted")
    n_neighbours: int = Field(default=3, ge=0, le=10, description="nearest training polymers to list")


class Neighbour(BaseModel):
    """A training polymer close to the query, with its measured value where the view may show it."""

    polymer_id: int
    psmiles: str
    name: str | None
    similarity: float
    measured_value: float | None
    sources: list[str] = []


class ModelSummary(BaseModel):
    """What the agent should know about the model: data size and honest held-out errors."""

    name: str
    n_train: int
    test_mae: float | None
    test_r2: float | None
    test_coverage: float | None
    error_unit: str              # unit of test_mae: canonical, or log10(unit) (decades) for log-scale ones


class Estimate(BaseModel):
    """A surrogate estimate: value, interval, domain verdict, nearest training polymers, model card."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    polymer: str                 # canonical repeat unit
    polymer_id: int | None       # set when the polymer is in the KB
    property: str
    kind: str
    unit: str
    value: float
    lower: float
    upper: float
    interval_coverage: float     # share of held-out polymers the interval is calibrated to contain
    measured_value: float | None  # the polymer's own visible median measurement of this kind, if any
    out_of_fold: bool = False    # a training polymer of the model: the value comes from a fold model without it
    nearest_similarity: float
    domain: Verdict
    domain_rule: str
    neighbours: list[Neighbour]
    model: ModelSummary
    provenance: Provenance


_CARDS: dict[tuple, dict[str, ModelCard]] = {}
_MODELS: dict[tuple, SurrogateModel] = {}


_VERSIONS: dict[tuple, str] = {}


def _kb_version(db: Path) -> str:
    """kb_version_of, once per KB file as it is on disk (a context per task must not open the file again)."""
    stat = Path(db).stat()
    key = (str(db), stat.st_ino, stat.st_mtime_ns)
    if key not in _VERSIONS:
        _VERSIONS[key] = kb_version_of(db)
    return _VERSIONS[key]


def _folder_key(folder: Path, kb_version: str) -> tuple:
    """Identity of a finished models folder: retraining rewrites index.json (last), so its mtime changes."""
    index = Path(folder) / "index.json"
    return str(Path(folder).resolve()), kb_version, index.stat().st_mtime_ns if index.exists() else -1


class EstimateContext:
    """A KB view plus the surrogate models of its KB version: cards read once, models loaded on first use
    (both cached per process and models folder, so a context per task costs nothing)."""

    def __init__(self, view: KBView, models_dir: Path | None = None) -> None:
        self.view = view
        self.kb_version = _kb_version(view.paths.db)
        self.models_dir = Path(models_dir) if models_dir else models_dir_of(view.kb_dir, self.kb_version)
        self._cards: dict[str, ModelCard] | None = None
        self._models: dict[str, SurrogateModel] = {}
        self._con: duckdb.DuckDBPyConnection | None = None

    def for_view(self, view: KBView) -> EstimateContext:
        """A context for another view of the same KB (e.g. a task's hidden set) sharing the loaded models."""
        if view.kb_dir != self.view.kb_dir:
            raise ValueError(f"for_view needs a view of {self.view.kb_dir}, got {view.kb_dir}")
        other = object.__new__(EstimateContext)
        other.__dict__.update(self.__dict__)
        other.view, other._con = view, None
        other._models = self._models  # shared: loaded once
        return other

    @property
    def cards(self) -> dict[str, ModelCard]:
        """The model cards by name; ToolError when no models were trained for this KB version."""
        if self._cards is None:
            key = _folder_key(self.models_dir, self.kb_version)
            if key not in _CARDS:
                try:
                    _CARDS[key] = load_cards(self.models_dir, self.kb_version)
                except StaleModelError as exc:
                    raise ToolError(f"property estimates are unavailable: {exc}") from exc
            self._cards = _CARDS[key]
        return self._cards

    def model(self, name: str) -> SurrogateModel:
        """A model by name, loaded once per process (contexts of per-task views share it)."""
        if name not in self._models:
            key = (*_folder_key(self.models_dir, self.kb_version), name)
            if key not in _MODELS:
                _MODELS[key] = load_model(self.models_dir, name, self.kb_version)
            self._models[name] = _MODELS[key]
        return self._models[name]

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """This thread's cached connection of the view, its hidden set in force (tools.connections)."""
        from tools.connections import connection

        return connection(self.view)

    def close(self) -> None:
        """Nothing to release: the connection is tools.connections' per-thread cache (kept for callers)."""
        self._con = None


def pick_card(cards: dict[str, ModelCard], prop: str, kind: str | None) -> ModelCard:
    """The model card for a property (and kind); ToolError naming the properties / kinds that have one."""
    with_model = sorted({c.property for c in cards.values()})
    try:
        name = get_property(prop).name
    except UnknownPropertyError as exc:
        raise ToolError(f"{exc}. Properties with a surrogate model: {', '.join(with_model)}") from exc
    kinds = {c.kind: c for c in cards.values() if c.property == name}
    if not kinds:
        raise ToolError(f"no surrogate model for {name!r} (too few training data). "
                        f"Properties with a surrogate model: {', '.join(with_model)}")
    if kind is None:
        return kinds.get("experimental") or max(kinds.values(), key=lambda c: c.n_train)
    if kind not in kinds:
        raise ToolError(f"no {kind} model for {name!r}; kinds with a model: {', '.join(sorted(kinds))}")
    return kinds[kind]


def _canonical(text: str) -> str:
    """Canonical key of the polymer text; ToolError saying why not and how to write one."""
    try:
        return to_repeat_unit(text).key
    except InvalidPolymerError as exc:
        raise ToolError(f"{exc}. Write the repeat unit as SMILES, {_EXAMPLE}") from exc


def _in_unit(card: ModelCard, canonical: float, unit: str | None) -> float:
    """A value in the property's canonical unit, converted to the requested one; ToolError on a bad unit."""
    if unit is None:
        return canonical
    try:
        return convert(canonical, card.unit, unit)
    except UnitError as exc:
        raise ToolError(f"{exc}. {card.property} is in {card.unit}; ask in that unit or another of the same "
                        f"dimension") from exc


def _round(x: float) -> float:
    """Four significant digits: enough for a design decision, compact for the model."""
    return float(f"{x:.4g}") if math.isfinite(x) else x


def _kb_rows(ctx: EstimateContext, ids: list[int], prop: str, kind: str) -> dict[int, tuple]:
    """key, name, visible median value and sources of the given polymers for one (property, kind)."""
    # ids are our own ints, inlined: DuckDB plans a literal IN list as a filter (~1 ms) where an unnest()
    # parameter list became a join over the whole view (~20 ms on the full KB)
    in_list = ", ".join(str(int(i)) for i in ids)
    con = ctx.con
    sql = f"SELECT polymer_id, key, name FROM polymers WHERE polymer_id IN ({in_list})"
    rows = con.execute(sql).fetchall()
    measured = con.execute(f"""SELECT polymer_id, value, sources FROM property_summary
                               WHERE polymer_id IN ({in_list}) AND property = ? AND kind = ?""",
                           [prop, kind]).fetchall()
    values = {r[0]: r[1:] for r in measured}
    return {int(pid): (key, name, *values.get(pid, (None, None))) for pid, key, name in rows}


def estimate_property(args: EstimateArgs, ctx: EstimateContext) -> Estimate:
    """Estimate a property of any polymer (in the KB or new) with a surrogate model trained on the KB.

    Use it when a property value is needed and the KB has no measurement of this polymer, to screen
    candidate designs, or to compare a measured value with what the model expects. Give the repeat unit
    as SMILES/PSMILES with two * ends and a property name (tg, density, ffv, perm_co2, ...); kind picks
    experimental vs md_simulated vs dft data (default: experimental where a model exists) and unit the
    output unit. Returns the value with a calibrated interval (lower, upper; about 80 % of held-out
    polymers fall inside), an applicability-domain verdict from the Tanimoto similarity to the nearest
    training polymer (trust 'out-of-domain' estimates little), the nearest training polymers with their
    measured values, and the model's n_train and held-out test error.
    """
    card = pick_card(ctx.cards, args.property, args.kind)
    model = ctx.model(card.name)
    key = _canonical(args.polymer)
    try:
        x, fp = model.inputs_of(key)
    except InvalidPolymerError as exc:
        raise ToolError(f"{exc}. Write the repeat unit as SMILES, {_EXAMPLE}") from exc
    _in_unit(card, 1.0, args.unit)  # a bad unit fails before any work is shown
    own_id = polymer_id_of(key)
    hits = [h for h in model.nearest(fp, max(args.n_neighbours, 1) + 1) if h[0] != own_id]  # never itself
    hits = hits[: max(args.n_neighbours, 1)]
    nearest = hits[0][1] if hits else float("nan")
    point, low, high = model.predict_one(x, nearest)
    oof = model.out_of_fold(own_id)
    if oof is not None:  # a training polymer: the cross-fitted estimate, with the interval's offsets
        point, low, high = oof, oof - (point - low), oof + (high - point)
    value, lower, upper = (_round(_in_unit(card, model.to_unit_space(v), args.unit)) for v in (point, low, high))
    rows = _kb_rows(ctx, [own_id] + [pid for pid, _ in hits], card.property, card.kind)
    neighbours = []
    for pid, sim in hits[: args.n_neighbours]:
        nkey, name, measured, sources = rows.get(pid, (None, None, None, None))
        neighbours.append(Neighbour(
            polymer_id=pid, psmiles=nkey or "", name=name, similarity=round(sim, 3),
            measured_value=None if measured is None else _round(_in_unit(card, measured, args.unit)),
            sources=sources.split("; ") if sources else []))
    own = rows.get(own_id)
    own_value = None if own is None or own[2] is None else _round(_in_unit(card, own[2], args.unit))
    dom = card.domain
    return Estimate(
        polymer=key, polymer_id=own_id if own is not None else None, property=card.property, kind=card.kind,
        unit=args.unit or card.unit, value=value, lower=lower, upper=upper,
        interval_coverage=card.coverage_target, measured_value=own_value, out_of_fold=oof is not None,
        nearest_similarity=round(nearest, 3), domain=model.verdict(nearest),
        domain_rule=f"Tanimoto to nearest training polymer: in-domain >= {dom.in_domain:.2f}, "
                    f"out-of-domain < {dom.out_of_domain:.2f}",
        neighbours=neighbours,
        model=ModelSummary(
            name=card.name, n_train=card.n_train,
            test_mae=None if card.metrics.test_mae is None else _round(card.metrics.test_mae),
            test_r2=card.metrics.test_r2, test_coverage=card.metrics.test_coverage,
            error_unit=f"log10({card.unit})" if card.log_scale else card.unit),
        provenance=Provenance(
            polymer_ids=([own_id] if own is not None else []) + [n.polymer_id for n in neighbours],
            source_ids=sorted({s for n in neighbours for s in n.sources}), kb_version=card.kb_version))
