"""A trained surrogate: its estimators, model card, feature recipe and training fingerprints (for the domain).

What a prediction needs and nothing else: `SurrogateModel.inputs_of(key)` featurises a polymer,
`.nearest(fp, k)` finds the most similar training polymers, `.predict(x, similarities)` (or `.predict_one`)
gives the value and calibrated interval in the model's space (log10 for log-scale properties) and
`.verdict(similarity)` the applicability-domain verdict. Training lives in tools.surrogate_train, saving and
loading in tools.surrogate_store.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict
from rdkit import Chem, RDLogger
from rdkit.Chem import Descriptors
from sklearn.ensemble import HistGradientBoostingRegressor

from kb.errors import InvalidPolymerError, PolyBenchError
from kb.features import FEATURE_COLUMNS, features_of, fingerprint_of_mol
from kb.fp_index import FingerprintIndex

RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]
log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
NUMERIC_COLUMNS: tuple[str, ...] = tuple(c for c, t in FEATURE_COLUMNS.items() if t != "VARCHAR")
Verdict = Literal["in-domain", "borderline", "out-of-domain"]
# RDKit descriptors that cost < ~0.05 ms each (measured over 300 Tg polymers: 100 of them ~4 ms together; the
# full list ~17 ms). Left out: qed, Ipc, BertzCT, BalabanJ, BCUT2D, Chi, EState indices, fr_ SMARTS counts,
# MolLogP / NumRotatableBonds (the features table has star-aware versions). On experimental Tg they cut the
# grouped test MAE by ~2 K.
_SLOW = {"qed", "AvgIpc", "Ipc", "BertzCT", "BalabanJ", "SPS", "MolLogP", "NumRotatableBonds",
         "MaxEStateIndex", "MaxAbsEStateIndex", "MinEStateIndex", "MinAbsEStateIndex"}
_DESCRIPTOR_FNS = {n: f for n, f in Descriptors.descList
                   if n not in _SLOW and not n.startswith(("BCUT2D", "Chi", "fr_"))}
RDKIT_DESCRIPTORS: tuple[str, ...] = tuple(_DESCRIPTOR_FNS)
_PER_HEAVY = tuple(c for c in NUMERIC_COLUMNS
                   if c not in ("heavy_atoms", "n_attachments", "backbone_aromatic", "fraction_sp3"))
_PER_BACKBONE = ("mw", "rotatable_bonds", "rings", "aromatic_rings", "sidechain_atoms")


class DomainThresholds(BaseModel):
    """Nearest-training-neighbour Tanimoto cut-offs: >= in_domain is in-domain, < out_of_domain is out."""

    model_config = ConfigDict(extra="forbid")

    in_domain: float
    out_of_domain: float
    how: str                                   # how the cut-offs were chosen (dev data or the default)
    dev_mae_by_verdict: dict[str, float | None] = {}
    dev_count_by_verdict: dict[str, int] = {}


class ModelMetrics(BaseModel):
    """Errors in the model's space (log10 of the unit for log-scale properties) on dev and test."""

    model_config = ConfigDict(extra="forbid")

    space: Literal["linear", "log10"]
    dev_mae: float | None = None
    test_mae: float | None = None
    test_rmse: float | None = None
    test_r2: float | None = None
    dev_coverage: float | None = None
    test_coverage: float | None = None
    test_mae_by_verdict: dict[str, float | None] = {}


class ModelCard(BaseModel):
    """Everything known about one trained model; written next to it as JSON (schema_version'd)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    name: str                                  # '<property>__<kind>'
    property: str
    kind: str
    unit: str                                  # canonical unit of the property (values are reported in it)
    log_scale: bool
    kb_version: str
    n_train: int
    n_dev: int
    n_test: int
    feature_columns: list[str]                 # every input column, in order (see input_names)
    rdkit_descriptors: list[str]               # RDKit descriptor names computed for the inputs
    rdkit_version: str
    fingerprint_bits: list[int]
    params: dict[str, Any]
    n_iter: int
    coverage_target: float
    conformal_margins: dict[str, float]        # per domain verdict: added to both quantile ends (model space)
    calibrated: bool                           # False when dev was too small to tune and calibrate on
    domain: DomainThresholds
    metrics: ModelMetrics
    train_seconds: float
    trained_at: str
    train_ids: list[int]                       # every training polymer id (audit: all in the train split)


def model_name(prop: str, kind: str) -> str:
    """File-safe name of the model of one (property, kind)."""
    return f"{prop}__{kind}"


def numeric_row(values: dict[str, object]) -> np.ndarray:
    """NUMERIC_COLUMNS of one features_of dict as float64 (None -> NaN, booleans -> 0/1)."""
    return np.array([np.nan if values[c] is None else float(values[c])  # type: ignore[arg-type]
                     for c in NUMERIC_COLUMNS])


def descriptor_row(mol: Chem.Mol, names: tuple[str, ...] | list[str] = RDKIT_DESCRIPTORS) -> np.ndarray:
    """RDKit descriptors of a unit (stars kept as dummy atoms); NaN where RDKit cannot compute one."""
    out = np.full(len(names), np.nan)
    for i, name in enumerate(names):
        try:
            out[i] = float(_DESCRIPTOR_FNS[name](mol))
        except (ValueError, RuntimeError, ZeroDivisionError, OverflowError):
            log.debug("descriptor %s failed on %s", name, Chem.MolToSmiles(mol))
    out[~np.isfinite(out)] = np.nan
    return np.clip(out, -1e9, 1e9)


def batch_descriptors(keys: list[str]) -> np.ndarray:
    """descriptor_row of many keys, (n, len(RDKIT_DESCRIPTORS)); an unparseable key gets a NaN row."""
    out = np.full((len(keys), len(RDKIT_DESCRIPTORS)), np.nan)
    for i, key in enumerate(keys):
        mol = Chem.MolFromSmiles(key)
        if mol is not None:
            out[i] = descriptor_row(mol)
    return out


def intensive_columns(numeric: np.ndarray) -> np.ndarray:
    """Per-heavy-atom counts and per-backbone-atom ratios: a repeat unit written twice keeps its values."""
    numeric = np.atleast_2d(numeric)
    col = {c: numeric[:, i] for i, c in enumerate(NUMERIC_COLUMNS)}
    heavy = np.maximum(col["heavy_atoms"], 1.0)
    backbone = np.where(col["backbone_atoms"] > 0, col["backbone_atoms"], np.nan)
    per_heavy = [col[c] / heavy for c in _PER_HEAVY]
    per_backbone = [col[c] / backbone for c in _PER_BACKBONE]
    return np.column_stack(per_heavy + per_backbone + [col["backbone_atoms"] / heavy])


def design_matrix(numeric: np.ndarray, descriptors: np.ndarray, fps: np.ndarray,
                  bits: np.ndarray) -> np.ndarray:
    """Model input, one row per polymer: features table, intensive ratios, RDKit descriptors, Morgan bits."""
    numeric, descriptors, fps = np.atleast_2d(numeric), np.atleast_2d(descriptors), np.atleast_2d(fps)
    unpacked = np.unpackbits(fps, axis=1)[:, bits]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = intensive_columns(numeric)
    return np.hstack([numeric, ratios, descriptors, unpacked]).astype(np.float32)


def input_names(bits: list[int]) -> list[str]:
    """Column names of design_matrix for a bit selection (for model cards and feature importances)."""
    return (list(NUMERIC_COLUMNS) + [f"{c}_per_heavy_atom" for c in _PER_HEAVY]
            + [f"{c}_per_backbone_atom" for c in _PER_BACKBONE] + ["backbone_share"]
            + [f"rdkit_{n}" for n in RDKIT_DESCRIPTORS] + [f"morgan_{b}" for b in bits])


def featurize_key(key: str, descriptors: tuple[str, ...] | list[str] = RDKIT_DESCRIPTORS,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numeric features, RDKit descriptors and packed fingerprint of a key (raises InvalidPolymerError)."""
    numeric = numeric_row(features_of(key))
    mol = Chem.MolFromSmiles(key)
    if mol is None:
        raise InvalidPolymerError(key, "RDKit could not parse it")
    return numeric, descriptor_row(mol, descriptors), np.frombuffer(fingerprint_of_mol(mol), dtype=np.uint8)


class FlatForest:
    """A fitted HistGradientBoostingRegressor's trees as flat arrays, walked for all trees at once.

    sklearn's predict enters an OpenMP region per tree: ~6 ms per row for 700 trees with one thread and
    ~50 ms with two on a loaded 2-core machine. One row through these arrays takes well under 1 ms and
    gives the same numbers (tests compare both). Numeric splits only (we use no categorical features).
    """

    def __init__(self, model: HistGradientBoostingRegressor) -> None:
        trees = [p[0].nodes for p in model._predictors]
        sizes = np.array([len(t) for t in trees])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        nodes = np.concatenate(trees)
        if nodes["is_categorical"].any():
            raise PolyBenchError("FlatForest supports numeric splits only")
        shift = np.repeat(offsets, sizes)
        self.roots = offsets.astype(np.int64)
        self.feature = nodes["feature_idx"].astype(np.int64)
        self.threshold = nodes["num_threshold"].astype(np.float64)
        self.missing_left = nodes["missing_go_to_left"].astype(bool)
        self.is_leaf = nodes["is_leaf"].astype(bool)
        self.left = np.where(self.is_leaf, 0, nodes["left"].astype(np.int64) + shift)
        self.right = np.where(self.is_leaf, 0, nodes["right"].astype(np.int64) + shift)
        self.value = nodes["value"].astype(np.float64)
        self.baseline = float(np.ravel(model._baseline_prediction)[0])

    def predict_row(self, x: np.ndarray) -> float:
        """Prediction for one input row (identity link: squared-error and quantile losses)."""
        x = np.asarray(x, dtype=np.float64).ravel()
        node = self.roots.copy()
        active = ~self.is_leaf[node]
        while active.any():
            at = node[active]
            values = x[self.feature[at]]
            go_left = np.where(np.isnan(values), self.missing_left[at], values <= self.threshold[at])
            node[active] = np.where(go_left, self.left[at], self.right[at])
            active = ~self.is_leaf[node]
        return self.baseline + float(self.value[node].sum())


@dataclass
class SurrogateModel:
    """Point and quantile estimators plus the training fingerprints, as pickled by joblib."""

    card: ModelCard
    point: Any
    lower: Any
    upper: Any
    train_ids: np.ndarray
    train_fps: np.ndarray
    oof_ids: np.ndarray | None = None       # training polymers with an out-of-fold point estimate (sorted)
    oof_values: np.ndarray | None = None    # ... that estimate, model space (from a model not fitted on them)
    _index: FingerprintIndex | None = field(default=None, repr=False)
    _flat: tuple[FlatForest, FlatForest, FlatForest] | None = field(default=None, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_index"] = state["_flat"] = None   # rebuilt on first use in a few ms
        state["card"] = self.card.model_dump(mode="json")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["card"] = ModelCard.model_validate(state["card"])
        self.__dict__.update(state)

    @property
    def index(self) -> FingerprintIndex:
        """Exact Tanimoto index over this model's training polymers (built once)."""
        if self._index is None:
            self._index = FingerprintIndex.build(self.train_ids, self.train_fps)
        return self._index

    def inputs_of(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Model input row and packed fingerprint of a canonical key (raises InvalidPolymerError)."""
        numeric, descriptors, fp = featurize_key(key, self.card.rdkit_descriptors)
        bits = np.asarray(self.card.fingerprint_bits, dtype=np.int64)
        return design_matrix(numeric, descriptors, fp, bits), fp

    def margin_of(self, similarity: float) -> float:
        """Conformal margin for a query with this nearest-training similarity (Mondrian by verdict)."""
        return self.card.conformal_margins.get(self.verdict(similarity), 0.0)

    def predict(self, x: np.ndarray, similarities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Value, lower and upper bound per row, model space; lower <= value <= upper always holds."""
        value = self.point.predict(x)
        margin = np.array([self.margin_of(float(s)) for s in similarities])
        lo = self.lower.predict(x) - margin
        hi = self.upper.predict(x) + margin
        return value, np.minimum(np.minimum(lo, hi), value), np.maximum(np.maximum(lo, hi), value)

    def predict_one(self, x: np.ndarray, similarity: float) -> tuple[float, float, float]:
        """predict for a single row through the flat trees (the tool's fast path, same numbers)."""
        if self._flat is None:
            self._flat = (FlatForest(self.point), FlatForest(self.lower), FlatForest(self.upper))
        value, lo, hi = (f.predict_row(x) for f in self._flat)
        margin = self.margin_of(similarity)
        lo, hi = lo - margin, hi + margin
        return value, min(lo, hi, value), max(lo, hi, value)

    def out_of_fold(self, polymer_id: int | None) -> float | None:
        """The cross-fitted point estimate (model space) of a training polymer, None for any other polymer:
        a training polymer's own prediction is in-sample, so an honest estimate of it comes from the fold
        model that never saw it (or its family)."""
        ids = getattr(self, "oof_ids", None)
        if ids is None or polymer_id is None or not len(ids):
            return None
        at = int(np.searchsorted(ids, polymer_id))
        return float(self.oof_values[at]) if at < len(ids) and int(ids[at]) == polymer_id else None

    def nearest(self, fp: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k most similar training polymers (id, Tanimoto), best first."""
        return self.index.search(fp, k)

    def verdict(self, similarity: float) -> Verdict:
        """Applicability-domain verdict for a nearest-training similarity."""
        return verdict_of(similarity, self.card.domain)

    def to_unit_space(self, value: float) -> float:
        """A model-space number in the property's canonical unit (undoes log10)."""
        return float(10.0**value) if self.card.log_scale else float(value)


def verdict_of(similarity: float, domain: DomainThresholds) -> Verdict:
    """Applicability-domain verdict for a nearest-training Tanimoto similarity."""
    if math.isnan(similarity) or similarity < domain.out_of_domain:
        return "out-of-domain"
    return "in-domain" if similarity >= domain.in_domain else "borderline"
