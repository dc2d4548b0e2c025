"""Train surrogate property models on the train split, tune and calibrate them on dev, score them on test.

One model per (property, kind of data). Kinds are never pooled: on the 865 polymers with both, MD-simulated
Tg averages 28 K above experimental Tg, and DFT band gaps are not measured ones; so "experimental Tg" and
"MD Tg" are separate models and the tools name the kind they used. Targets are each polymer's median value
per (property, kind) from `property_summary`, in the canonical unit (log10 of it for log-scale properties);
measurement conditions (temperature, gas...) are not features, so the median mixes them.

Inputs (tools.surrogate_model.design_matrix): the numeric columns of the `features` table, their
per-heavy-atom / per-backbone-atom ratios, 100 cheap RDKit descriptors and up to `max_bits` Morgan bits
chosen on the training polymers (most variable first). Point model: HistGradientBoostingRegressor (squared
error), early-stopped on dev and picked from a small grid by dev MAE. Interval: 10 % / 90 % quantile models
of the same shape, widened by split-conformal margins from dev (CQR, one margin per domain verdict) to the
target coverage. Domain: the Tanimoto similarity to the nearest training polymer; cut-offs come from the
dev error-vs-similarity curve (see `domain_thresholds`). The test split is only scored, never used to choose.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from rdkit import rdBase
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.isotonic import IsotonicRegression
from threadpoolctl import threadpool_limits

from kb.config import KBPaths
from kb.errors import PolyBenchError
from kb.properties import PROPERTIES
from kb.store import connect_read_only
from tools.surrogate_model import (
    NUMERIC_COLUMNS,
    RDKIT_DESCRIPTORS,
    DomainThresholds,
    ModelCard,
    ModelMetrics,
    SurrogateModel,
    batch_descriptors,
    design_matrix,
    input_names,
    model_name,
    verdict_of,
)
from tools.surrogate_store import kb_version_of, models_dir_of, read_index, save_models

log = logging.getLogger(__name__)

MIN_DEV = 20                    # fewer dev polymers: no tuning, no calibration, default domain cut-offs
DEFAULT_DOMAIN = (0.5, 0.3)     # in-domain >= 0.5, out-of-domain < 0.3 Tanimoto, where dev cannot tell
PATIENCE = 30                   # early stopping: rounds without dev improvement
# on experimental Tg these two were within 1 K on dev; 63 leaves was slower and no better
GRID: tuple[dict[str, float], ...] = (
    {"max_leaf_nodes": 15, "min_samples_leaf": 10, "l2_regularization": 1.0, "max_features": 0.5},
    {"max_leaf_nodes": 31, "min_samples_leaf": 20, "l2_regularization": 0.0, "max_features": 1.0},
)


class SurrogateConfig(BaseModel):
    """Settings of one training run; unknown keys are errors. Part of the model folder's identity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_train: int = Field(default=100, ge=2, description="train-split polymers a (property, kind) needs")
    max_bits: int = Field(default=384, ge=0, le=2048, description="Morgan bits used (most variable)")
    coverage: float = Field(default=0.8, gt=0.0, lt=1.0, description="target coverage of the interval")
    learning_rate: float = Field(default=0.05, gt=0.0, le=1.0)
    max_iter: int = Field(default=2000, ge=10, description="boosting rounds before early stopping")
    tune: bool = Field(default=True, description="try the small grid on dev (else its first entry only)")
    properties: list[str] | None = Field(default=None, description="train only these properties (None: all)")
    seed: int = 0
    oof_folds: int = Field(default=5, ge=0, le=20, description="folds (by polymer family) of the cross-fitted "
                           "estimates of training polymers; 0: none")


@dataclass
class TrainingData:
    """Targets of every (property, kind) and the inputs of every measured polymer, rows aligned by id."""

    targets: pd.DataFrame        # polymer_id, property, kind, value, split, cluster_id
    ids: np.ndarray              # polymer ids, sorted
    numeric: np.ndarray          # (n, len(NUMERIC_COLUMNS)) float64, NaN where a feature does not apply
    descriptors: np.ndarray      # (n, len(RDKIT_DESCRIPTORS)) float64
    fps: np.ndarray              # (n, 256) packed Morgan fingerprints

    def rows_of(self, polymer_ids: np.ndarray) -> np.ndarray:
        """Row positions of polymer ids in ids / numeric / fps."""
        return np.searchsorted(self.ids, polymer_ids)


def load_training_data(con: duckdb.DuckDBPyConnection, properties: list[str] | None = None) -> TrainingData:
    """Per-polymer medians of every (property, kind) with a split and a fingerprint, and their inputs."""
    targets = con.execute("""
        SELECT s.polymer_id, s.property, s.kind, s.value, p.split, p.cluster_id
        FROM property_summary s JOIN polymers p USING (polymer_id) JOIN fingerprints f USING (polymer_id)
        WHERE p.split IS NOT NULL ORDER BY s.property, s.kind, s.polymer_id""").df()
    if properties is not None:
        targets = targets[targets["property"].isin(properties)].reset_index(drop=True)
    ids = np.unique(targets["polymer_id"].to_numpy(dtype=np.int64))
    con.register("wanted_ids", pd.DataFrame({"polymer_id": ids}))
    cols = ", ".join(f'CAST(x."{c}" AS DOUBLE) AS "{c}"' for c in NUMERIC_COLUMNS)
    inputs = con.execute(f"""
        SELECT w.polymer_id, p.key, {cols}, f.morgan FROM wanted_ids w JOIN polymers p USING (polymer_id)
        JOIN features x USING (polymer_id) JOIN fingerprints f USING (polymer_id)
        ORDER BY w.polymer_id""").df()
    con.unregister("wanted_ids")
    numeric = inputs[list(NUMERIC_COLUMNS)].to_numpy(dtype=np.float64, na_value=np.nan)
    fps = np.frombuffer(b"".join(inputs["morgan"]), dtype=np.uint8).reshape(len(inputs), -1)
    kept = inputs["polymer_id"].to_numpy(dtype=np.int64)
    targets = targets[targets["polymer_id"].isin(kept)].reset_index(drop=True)
    start = time.perf_counter()
    descriptors = batch_descriptors(inputs["key"].tolist())
    log.info("RDKit descriptors of %d polymers in %.1f s", len(inputs), time.perf_counter() - start)
    return TrainingData(targets, kept, numeric, descriptors, fps)


def model_specs(targets: pd.DataFrame, min_train: int) -> list[tuple[str, str, int]]:
    """(property, kind, n_train) of every target with at least min_train train-split polymers."""
    train = targets[targets["split"] == "train"]
    counts = train.groupby(["property", "kind"]).size()
    return [(p, k, int(n)) for (p, k), n in counts.items() if n >= min_train and p in PROPERTIES]


def select_bits(fps: np.ndarray, max_bits: int, min_count: int = 3) -> np.ndarray:
    """Indices of the most variable Morgan bits on these fingerprints (set in >= min_count, not in all)."""
    if max_bits == 0 or len(fps) == 0:
        return np.zeros(0, dtype=np.int64)
    counts = np.unpackbits(fps, axis=1).sum(axis=0, dtype=np.int64)
    usable = np.flatnonzero((counts >= min_count) & (counts <= len(fps) - min_count))
    share = counts[usable] / len(fps)
    order = np.lexsort((usable, -(share * (1 - share))))
    return np.sort(usable[order[:max_bits]])


def nearest_similarities(model: SurrogateModel, fps: np.ndarray) -> np.ndarray:
    """Tanimoto similarity of each fingerprint row to its nearest training polymer of the model."""
    out = np.empty(len(fps))
    for i, fp in enumerate(fps):
        hits = model.nearest(fp, 1)
        out[i] = hits[0][1] if hits else np.nan
    return out


def domain_thresholds(sims: np.ndarray, abs_err: np.ndarray) -> DomainThresholds:
    """Cut-offs from the dev error-vs-similarity curve (a decreasing isotonic fit of |error| on similarity).

    In-domain: from the lowest similarity where the fitted error stays at or below the model's mean dev
    error. Out-of-domain: below the highest similarity where it reaches twice that, or (never reached)
    below the 5th percentile of dev similarity, where the model was hardly validated.
    """
    ok = np.isfinite(sims) & np.isfinite(abs_err)
    sims, abs_err = sims[ok], abs_err[ok]
    if len(sims) < MIN_DEV:
        return DomainThresholds(in_domain=DEFAULT_DOMAIN[0], out_of_domain=DEFAULT_DOMAIN[1],
                                how=f"default: only {len(sims)} dev polymers")
    mean_err = float(abs_err.mean())
    fitted = IsotonicRegression(increasing=False).fit(sims, abs_err).predict(sims)
    good = sims[fitted <= mean_err]
    in_domain = float(good.min()) if len(good) else float(sims.max())
    bad = sims[fitted >= 2 * mean_err]
    out = float(bad.max()) if len(bad) else float(np.quantile(sims, 0.05))
    out = min(out, in_domain)
    out_rule = "where it >= 2x dev MAE" if len(bad) else "below the 5th percentile of dev similarity"
    how = (f"dev ({len(sims)} polymers): in-domain where the isotonic error curve <= dev MAE {mean_err:.4g}; "
           f"out-of-domain {out_rule}")
    return DomainThresholds(in_domain=round(in_domain, 4), out_of_domain=round(out, 4), how=how)


def _by_verdict(sims: np.ndarray, abs_err: np.ndarray, domain: DomainThresholds) -> tuple[dict, dict]:
    """MAE and count per domain verdict."""
    verdicts = np.array([verdict_of(float(s), domain) for s in sims])
    maes: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for v in ("in-domain", "borderline", "out-of-domain"):
        mask = verdicts == v
        counts[v] = int(mask.sum())
        maes[v] = round(float(abs_err[mask].mean()), 6) if mask.any() else None
    return maes, counts


def _boosted(config: SurrogateConfig, params: dict, **extra: object) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(learning_rate=config.learning_rate, random_state=config.seed,
                                         **params, **extra)  # type: ignore[arg-type]


def _fit_point(x_tr: np.ndarray, y_tr: np.ndarray, x_dev: np.ndarray, y_dev: np.ndarray,
               config: SurrogateConfig) -> tuple[dict, HistGradientBoostingRegressor]:
    """The grid entry with the lowest dev MAE, early-stopped on dev (no dev: internal 10 % hold-out)."""
    if len(y_dev) < MIN_DEV:
        early = len(y_tr) >= 200
        model = _boosted(config, GRID[0], max_iter=config.max_iter if early else 200, early_stopping=early,
                         n_iter_no_change=PATIENCE, validation_fraction=0.1)
        return dict(GRID[0]), model.fit(x_tr, y_tr)
    best: tuple[float, dict, HistGradientBoostingRegressor] | None = None
    for params in GRID if config.tune else GRID[:1]:
        model = _boosted(config, params, max_iter=config.max_iter, early_stopping=True,
                         n_iter_no_change=PATIENCE)
        model.fit(x_tr, y_tr, X_val=x_dev, y_val=y_dev)
        mae = float(np.abs(model.predict(x_dev) - y_dev).mean())
        log.debug("params %s: %d rounds, dev MAE %.4g", params, model.n_iter_, mae)
        if best is None or mae < best[0]:
            best = (mae, dict(params), model)
    assert best is not None
    return best[1], best[2]


def conformal_margins(lo: np.ndarray, hi: np.ndarray, y: np.ndarray, verdicts: np.ndarray,
                      coverage: float) -> dict[str, float]:
    """Split-conformal (CQR) margins per domain verdict: how far to widen [lo, hi] to hold `coverage` of dev.

    Mondrian by verdict: a verdict with >= MIN_DEV dev polymers gets its own margin, others the pooled one,
    so out-of-domain queries get the wider intervals their dev errors call for.
    """
    scores = np.maximum(lo - y, y - hi)

    def margin(sample: np.ndarray) -> float:
        level = min(1.0, math.ceil((len(sample) + 1) * coverage) / len(sample))
        return float(np.quantile(sample, level, method="higher"))

    pooled = margin(scores)
    return {v: round(margin(scores[verdicts == v]) if (verdicts == v).sum() >= MIN_DEV else pooled, 6)
            for v in ("in-domain", "borderline", "out-of-domain")}


def train_model(prop: str, kind: str, data: TrainingData, config: SurrogateConfig,
                kb_version: str) -> SurrogateModel:
    """Train, tune, calibrate and score the model of one (property, kind) on the data's splits."""
    start = time.perf_counter()
    pdef = PROPERTIES[prop]
    rows = data.targets[(data.targets["property"] == prop) & (data.targets["kind"] == kind)]
    y_all = rows["value"].to_numpy(dtype=np.float64)
    y_all = np.log10(y_all) if pdef.log_scale else y_all
    split = rows["split"].to_numpy()
    pos = data.rows_of(rows["polymer_id"].to_numpy(dtype=np.int64))
    part = {s: (pos[split == s], y_all[split == s]) for s in ("train", "dev", "test")}
    bits = select_bits(data.fps[part["train"][0]], config.max_bits)
    xs = {s: design_matrix(data.numeric[p], data.descriptors[p], data.fps[p], bits)
          for s, (p, _) in part.items()}
    ys = {s: y for s, (_, y) in part.items()}
    empty = np.isnan(xs["train"]).all(axis=0)  # sklearn cannot bin an all-NaN column (never split on anyway)
    for x in xs.values():
        x[:, empty] = 0.0
    params, point = _fit_point(xs["train"], ys["train"], xs["dev"], ys["dev"], config)
    n_iter = int(point.n_iter_)
    alpha = (1 - config.coverage) / 2
    # quantile ends: same trees, half the rounds at twice the rate (they are conformalized on dev anyway)
    quick = config.model_copy(update={"learning_rate": min(1.0, 2 * config.learning_rate)})
    lower, upper = (_boosted(quick, params, loss="quantile", quantile=q, max_iter=max(10, n_iter // 2),
                             early_stopping=False).fit(xs["train"], ys["train"]) for q in (alpha, 1 - alpha))
    train_ids = data.ids[part["train"][0]]
    card = ModelCard(
        name=model_name(prop, kind), property=prop, kind=kind, unit=pdef.unit, log_scale=pdef.log_scale,
        kb_version=kb_version, n_train=len(ys["train"]), n_dev=len(ys["dev"]), n_test=len(ys["test"]),
        feature_columns=input_names(bits.tolist()), rdkit_descriptors=list(RDKIT_DESCRIPTORS),
        rdkit_version=rdBase.rdkitVersion, fingerprint_bits=bits.tolist(),
        params={**params, "learning_rate": config.learning_rate, "loss": "squared_error"}, n_iter=n_iter,
        coverage_target=config.coverage, conformal_margins={}, calibrated=len(ys["dev"]) >= MIN_DEV,
        domain=DomainThresholds(in_domain=DEFAULT_DOMAIN[0], out_of_domain=DEFAULT_DOMAIN[1],
                                how=f"default: only {len(ys['dev'])} dev polymers"),
        metrics=ModelMetrics(space="log10" if pdef.log_scale else "linear"), train_seconds=0.0,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"), train_ids=train_ids.tolist())
    model = SurrogateModel(card, point, lower, upper, train_ids, data.fps[part["train"][0]])
    groups = rows["cluster_id"].to_numpy()[split == "train"] if "cluster_id" in rows else None
    oof = out_of_fold(xs["train"], ys["train"], train_ids, groups, params, n_iter, config)
    if oof is not None:
        order = np.argsort(train_ids)
        model.oof_ids, model.oof_values = train_ids[order], oof[order]
    if card.calibrated:  # domain cut-offs from the point model's dev errors, then margins per verdict
        dev_sims = nearest_similarities(model, data.fps[part["dev"][0]])
        card.domain = domain_thresholds(dev_sims, np.abs(point.predict(xs["dev"]) - ys["dev"]))
        verdicts = np.array([verdict_of(float(v), card.domain) for v in dev_sims])
        card.conformal_margins = conformal_margins(lower.predict(xs["dev"]), upper.predict(xs["dev"]),
                                                   ys["dev"], verdicts, config.coverage)
    _score(model, xs, ys, {s: data.fps[p] for s, (p, _) in part.items()})
    card.train_seconds = round(time.perf_counter() - start, 2)
    log.info("%s: n_train %d, test MAE %s (%.1f s)", card.name, card.n_train, card.metrics.test_mae,
             card.train_seconds)
    return model


def fold_of(polymer_ids: np.ndarray, groups: np.ndarray | None, folds: int) -> np.ndarray:
    """A fold per training polymer: by its family / fingerprint cluster (so analogues share a fold), by id
    where it has none."""
    ids = np.asarray(polymer_ids, dtype=np.int64)
    if groups is None:
        return ids % folds
    g = pd.to_numeric(pd.Series(groups), errors="coerce").to_numpy()
    labels = np.where(np.isfinite(g), np.nan_to_num(g).astype(np.int64), ids)
    return (labels * 2654435761 % 2**32) % folds  # a multiplicative hash spreads consecutive cluster ids


def out_of_fold(x: np.ndarray, y: np.ndarray, polymer_ids: np.ndarray, groups: np.ndarray | None, params: dict,
                n_iter: int, config: SurrogateConfig) -> np.ndarray | None:
    """Cross-fitted point estimates of the training polymers: each from a model of the same shape fitted
    without its fold; None when folds are off or too few polymers."""
    k = config.oof_folds
    if k < 2 or len(y) < 2 * k:
        return None
    fold = fold_of(polymer_ids, groups, k)
    out = np.full(len(y), np.nan)
    # like the quantile ends: the final model's trees at twice the rate and half the rounds (k fits, kept cheap)
    quick = config.model_copy(update={"learning_rate": min(1.0, 2 * config.learning_rate)})
    for f in range(k):
        held = fold == f
        if not held.any() or held.all():
            continue
        x_fit, x_held = x[~held].copy(), x[held].copy()
        empty = np.isnan(x_fit).all(axis=0)  # as for the full model: sklearn cannot bin an all-NaN column
        x_fit[:, empty], x_held[:, empty] = 0.0, 0.0
        model = _boosted(quick, params, max_iter=max(10, n_iter // 2), early_stopping=False)
        out[held] = model.fit(x_fit, y[~held]).predict(x_held)
    missing = np.isnan(out)
    out[missing] = float(np.mean(y))  # a fold holding every polymer cannot happen with k >= 2; kept safe
    return out


def _score(model: SurrogateModel, xs: dict, ys: dict, fps: dict) -> None:
    """Fill the card's dev / test metrics (and dev counts per verdict)."""
    card = model.card
    metrics = card.metrics
    errors, sims, inside = {}, {}, {}
    for s in ("dev", "test"):
        if len(ys[s]) == 0:
            continue
        sims[s] = nearest_similarities(model, fps[s])
        value, lo, hi = model.predict(xs[s], sims[s])
        errors[s] = np.abs(value - ys[s])
        inside[s] = float(((ys[s] >= lo) & (ys[s] <= hi)).mean())
    if "dev" in errors:
        metrics.dev_mae = round(float(errors["dev"].mean()), 6)
        metrics.dev_coverage = round(inside["dev"], 4)
        card.domain.dev_mae_by_verdict, card.domain.dev_count_by_verdict = _by_verdict(
            sims["dev"], errors["dev"], card.domain)
    if "test" in errors:
        y = ys["test"]
        metrics.test_mae = round(float(errors["test"].mean()), 6)
        metrics.test_rmse = round(float(np.sqrt((errors["test"] ** 2).mean())), 6)
        spread = float(((y - y.mean()) ** 2).sum())
        metrics.test_r2 = round(1 - float((errors["test"] ** 2).sum()) / spread, 4) if spread > 0 else None
        metrics.test_coverage = round(inside["test"], 4)
        metrics.test_mae_by_verdict = _by_verdict(sims["test"], errors["test"], card.domain)[0]


def train_surrogates(kb_dir: Path, config: SurrogateConfig | None = None,
                     models_dir: Path | None = None) -> tuple[Path, list[ModelCard]]:
    """Train every model the KB has data for; save them (default <kb_dir>/models/surrogates/<kb_version>)."""
    config = config or SurrogateConfig()
    paths = KBPaths(kb_dir)
    kb_version = kb_version_of(paths.db)
    folder = Path(models_dir) if models_dir else models_dir_of(kb_dir, kb_version)
    # one OpenMP thread: on this shared 2-core machine two threads made HistGradientBoosting ~30x slower
    with threadpool_limits(limits=1, user_api="openmp"):
        con = connect_read_only(paths.db)
        try:
            data = load_training_data(con, config.properties)
        finally:
            con.close()
        specs = model_specs(data.targets, config.min_train)
        if not specs:
            raise PolyBenchError(f"no (property, kind) has >= {config.min_train} train-split polymers "
                                 f"in {paths.db}")
        models = [train_model(prop, kind, data, config, kb_version) for prop, kind, _ in specs]
    save_models(models, folder, kb_version, config.model_dump(mode="json"))
    return folder, [m.card for m in models]


def ensure_models(kb_dir: Path, config: SurrogateConfig | None = None,
                  models_dir: Path | None = None) -> Path:
    """The models folder of the KB's current version: reused if made with this config, else retrained."""
    config = config or SurrogateConfig()
    kb_version = kb_version_of(KBPaths(kb_dir).db)
    folder = Path(models_dir) if models_dir else models_dir_of(kb_dir, kb_version)
    index = read_index(folder)
    wanted = config.model_dump(mode="json")
    if index is not None and index["kb_version"] == kb_version and index["config"] == wanted:
        return folder
    log.info("surrogate models in %s are missing or stale (KB %s); retraining", folder, kb_version)
    return train_surrogates(kb_dir, config, folder)[0]
