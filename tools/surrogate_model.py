"""A trained surrogate: its estimators, model card, feature recipe and training fingerprints (for the domain).

What a prediction needs and nothing else: `SurrogateModel.predict(x)` gives value and calibrated interval in
the model's space (log10 for log-scale properties), `.nearest(fp, k)` the most similar training polymers,
`.verdict(similarity)` the applicability-domain verdict. Training lives in tools.surrogate_train.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
from pydantic import BaseModel, ConfigDict

from kb.errors import PolyBenchError
from kb.features import FEATURE_COLUMNS, features_of, fingerprint_of
from kb.fp_index import FingerprintIndex
from kb.store import connect_read_only

SCHEMA_VERSION = 1
INDEX_FILE = "index.json"
NUMERIC_COLUMNS: tuple[str, ...] = tuple(c for c, t in FEATURE_COLUMNS.items() if t != "VARCHAR")
Verdict = Literal["in-domain", "borderline", "out-of-domain"]


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
    feature_columns: list[str]
    fingerprint_bits: list[int]
    params: dict[str, Any]
    n_iter: int
    coverage_target: float
    conformal_margin: float                    # added to both quantile ends (model space), from dev
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
    return np.array([np.nan if values[c] is None else float(values[c]) for c in NUMERIC_COLUMNS])  # type: ignore[arg-type]


def design_matrix(numeric: np.ndarray, fps: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Model input: numeric feature columns then the selected Morgan bits (fps: (n, 256) packed uint8)."""
    fps = np.atleast_2d(fps)
    unpacked = np.unpackbits(fps, axis=1)[:, bits].astype(np.float32)
    return np.hstack([np.atleast_2d(numeric).astype(np.float32), unpacked])


def featurize_key(key: str) -> tuple[np.ndarray, np.ndarray]:
    """Numeric features and packed fingerprint of a canonical key (raises InvalidPolymerError)."""
    numeric = numeric_row(features_of(key))
    fp = np.frombuffer(fingerprint_of(key), dtype=np.uint8)
    return numeric, fp


@dataclass
class SurrogateModel:
    """Point and quantile estimators plus the training fingerprints, as pickled by joblib."""

    card: ModelCard
    point: Any
    lower: Any
    upper: Any
    train_ids: np.ndarray
    train_fps: np.ndarray
    _index: FingerprintIndex | None = field(default=None, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_index"] = None   # rebuilt on first use; cheap for a few thousand rows
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

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Value, lower and upper bound per row, model space; lower <= value <= upper always holds."""
        value = self.point.predict(x)
        margin = self.card.conformal_margin
        lo = self.lower.predict(x) - margin
        hi = self.upper.predict(x) + margin
        return value, np.minimum(np.minimum(lo, hi), value), np.maximum(np.maximum(lo, hi), value)

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


class StaleModelError(PolyBenchError):
    """Models on disk were trained on another KB version (or are missing): retrain them."""


def models_dir_of(kb_dir: Path, kb_version: str) -> Path:
    """Default folder of the surrogate models trained on one KB version."""
    return Path(kb_dir) / "models" / "surrogates" / kb_version


def kb_version_of(db_path: Path) -> str:
    """The kb_version recorded in a finished KB's build_info."""
    con = connect_read_only(db_path)
    try:
        row = con.execute("SELECT value FROM build_info WHERE key = 'kb_version'").fetchone()
    finally:
        con.close()
    if row is None:
        raise PolyBenchError(f"{db_path} has no kb_version in build_info; rebuild it")
    return str(row[0])


def save_models(models: list[SurrogateModel], folder: Path, kb_version: str, config: dict[str, Any]) -> None:
    """Write each model (joblib) and its card (JSON), then index.json last: a folder without it is unfinished."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / INDEX_FILE).unlink(missing_ok=True)
    for model in models:
        joblib.dump(model, folder / f"{model.card.name}.joblib", compress=3)
        (folder / f"{model.card.name}.json").write_text(model.card.model_dump_json(indent=1))
    index = {"schema_version": SCHEMA_VERSION, "kb_version": kb_version, "config": config,
             "models": sorted(m.card.name for m in models)}
    (folder / INDEX_FILE).write_text(json.dumps(index, indent=1))


def read_index(folder: Path) -> dict[str, Any] | None:
    """The folder's index.json (kb_version, config, model names), or None when absent or unfinished."""
    path = Path(folder) / INDEX_FILE
    if not path.exists():
        return None
    index = json.loads(path.read_text())
    return index if index.get("schema_version") == SCHEMA_VERSION else None


def load_models(folder: Path, kb_version: str) -> dict[str, SurrogateModel]:
    """Every model of a folder by name; refuses (StaleModelError) models of another KB version."""
    index = read_index(folder)
    if index is None:
        raise StaleModelError(f"no finished surrogate models in {folder}; run `python -m tools.train_surrogates`")
    if index["kb_version"] != kb_version:
        raise StaleModelError(f"surrogate models in {folder} were trained on KB {index['kb_version']}, the KB is "
                              f"{kb_version}; retrain with `python -m tools.train_surrogates`")
    models: dict[str, SurrogateModel] = {}
    for name in index["models"]:
        model = joblib.load(Path(folder) / f"{name}.joblib")
        if not isinstance(model, SurrogateModel) or model.card.kb_version != kb_version:
            raise StaleModelError(f"{folder / name}.joblib is not a surrogate of KB {kb_version}; retrain")
        models[name] = model
    return models
