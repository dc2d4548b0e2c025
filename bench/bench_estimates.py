"""Surrogate models against two baselines on the grouped test split of the full KB, and the tool's latency.

    .venv/bin/python -m bench.bench_estimates             # every (property, kind) with >= 300 polymers
    .venv/bin/python -m bench.bench_estimates --property tg --property density --property ffv

Ours: the models of `python -m tools.train_surrogates` (trained here first when missing or stale).
Baselines trained in this run on the same train split and target (log10 for log-scale properties):
(a) Tanimoto kNN, k=5, similarity-weighted mean of the 5 nearest training polymers; (b) a random forest on
the 2048 Morgan bits (200 trees, max_features 0.33). Errors are in the model's space: the unit for linear
properties, decades for log-scale ones. Latency: estimate_property p50 against a bare features_of call on
the same polymers. Results also go to bench/out/estimates.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from threadpoolctl import threadpool_limits

from kb.config import DEFAULT_KB_DIR, KBPaths
from kb.features import features_of
from kb.fp_index import FingerprintIndex
from kb.properties import PROPERTIES
from kb.store import connect_read_only
from tools.estimate import EstimateArgs, EstimateContext, estimate_property
from tools.kb_view import KBView
from tools.surrogate_model import design_matrix
from tools.surrogate_store import kb_version_of, load_model
from tools.surrogate_train import TrainingData, ensure_models, load_training_data, nearest_similarities

OUT = Path(__file__).resolve().parent / "out" / "estimates.json"
MUST_BEAT = ("tg", "density", "ffv")


def knn_predict(train_ids: np.ndarray, train_fps: np.ndarray, y_train: np.ndarray, fps: np.ndarray,
                k: int = 5) -> np.ndarray:
    """Similarity-weighted mean of the k nearest training targets (Tanimoto) for each fingerprint row."""
    index = FingerprintIndex.build(train_ids, train_fps)
    value_of = dict(zip(train_ids.tolist(), y_train))
    out = np.empty(len(fps))
    for i, fp in enumerate(fps):
        hits = index.search(fp, k)
        w = np.array([s for _, s in hits])
        v = np.array([value_of[pid] for pid, _ in hits])
        out[i] = float((w * v).sum() / w.sum()) if w.sum() > 0 else float(v.mean())
    return out


def scores(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """MAE and R^2."""
    err = pred - y
    spread = float(((y - y.mean()) ** 2).sum())
    return float(np.abs(err).mean()), (1 - float((err**2).sum()) / spread) if spread > 0 else float("nan")


def compare(name: str, data: TrainingData, folder: Path, kb_version: str, trees: int) -> dict:
    """Ours, kNN and RF on the test split of one model's (property, kind)."""
    model = load_model(folder, name, kb_version)
    card = model.card
    rows = data.targets[(data.targets["property"] == card.property) & (data.targets["kind"] == card.kind)]
    y = rows["value"].to_numpy(dtype=np.float64)
    y = np.log10(y) if card.log_scale else y
    pos = data.rows_of(rows["polymer_id"].to_numpy(dtype=np.int64))
    split = rows["split"].to_numpy()
    tr, te = split == "train", split == "test"
    assert set(data.ids[pos[tr]].tolist()) == set(card.train_ids), f"{name}: train split changed"
    x_test = design_matrix(data.numeric[pos[te]], data.descriptors[pos[te]], data.fps[pos[te]],
                           np.asarray(card.fingerprint_bits, dtype=np.int64))
    sims = nearest_similarities(model, data.fps[pos[te]])
    with threadpool_limits(limits=1, user_api="openmp"):
        ours, lo, hi = model.predict(x_test, sims)
    knn = knn_predict(data.ids[pos[tr]], data.fps[pos[tr]], y[tr], data.fps[pos[te]])
    start = time.perf_counter()
    bits = np.unpackbits(data.fps[pos], axis=1)
    forest = RandomForestRegressor(n_estimators=trees, max_features=0.33, n_jobs=2, random_state=0)
    rf = forest.fit(bits[tr], y[tr]).predict(bits[te])
    rf_seconds = time.perf_counter() - start
    out = {"model": name, "space": card.metrics.space, "n_measured": len(rows), "n_train": int(tr.sum()),
           "n_test": int(te.sum()), "train_seconds": card.train_seconds, "rf_seconds": round(rf_seconds, 1),
           "coverage": float(((y[te] >= lo) & (y[te] <= hi)).mean()),
           "mae_by_verdict": card.metrics.test_mae_by_verdict}
    for label, pred in (("ours", ours), ("knn", knn), ("rf", rf)):
        out[f"mae_{label}"], out[f"r2_{label}"] = scores(y[te], pred)
    return out


def latency(kb_dir: Path, keys: list[str], prop: str) -> dict:
    """p50 / p90 of estimate_property (warm, models loaded) and of a bare features_of call, in ms."""
    ctx = EstimateContext(KBView.for_split(kb_dir, "test"))
    estimate_property(EstimateArgs(polymer=keys[0], property=prop), ctx)  # load the model once
    tool, bare = [], []
    for key in keys:
        start = time.perf_counter()
        estimate_property(EstimateArgs(polymer=key, property=prop), ctx)
        tool.append(time.perf_counter() - start)
        start = time.perf_counter()
        features_of(key)
        bare.append(time.perf_counter() - start)
    ctx.close()
    p = {f"{name}_p{q}_ms": float(np.percentile(v, q) * 1000)
         for name, v in (("tool", tool), ("features_of", bare)) for q in (50, 90)}
    p["ratio_p50"] = p["tool_p50_ms"] / p["features_of_p50_ms"]
    return p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, default=DEFAULT_KB_DIR)
    parser.add_argument("--min-measured", type=int, default=300, help="polymers a (property, kind) needs")
    parser.add_argument("--property", action="append", default=None, help="only these (repeatable)")
    parser.add_argument("--trees", type=int, default=200, help="random-forest baseline trees")
    parser.add_argument("--latency-n", type=int, default=300, help="polymers timed for latency")
    args = parser.parse_args()
    start = time.perf_counter()
    folder = ensure_models(args.kb_dir)
    print(f"models: {folder} (ready in {time.perf_counter() - start:.1f} s)")
    kb_version = kb_version_of(KBPaths(args.kb_dir).db)
    con = connect_read_only(KBPaths(args.kb_dir).db)
    data = load_training_data(con, args.property)
    con.close()
    counts = data.targets.groupby(["property", "kind"]).size()
    names = sorted(json.loads((folder / "index.json").read_text())["models"])
    chosen = [n for n in names if counts.get(tuple(n.split("__")), 0) >= args.min_measured
              and (args.property is None or n.split("__")[0] in args.property)]
    chosen.sort(key=lambda n: -counts[tuple(n.split("__"))])
    rows = []
    header = (f"{'model':42s} {'space':6s} {'n_tr':>5s} {'n_te':>5s}  {'MAE ours':>9s} {'kNN':>9s} "
              f"{'RF':>9s}  {'R2 ours':>7s} {'kNN':>6s} {'RF':>6s}  {'cov80':>5s}  {'ours/best':>9s}")
    print(header)
    for name in chosen:
        r = compare(name, data, folder, kb_version, args.trees)
        rows.append(r)
        best = min(r["mae_knn"], r["mae_rf"])
        print(f"{name:42s} {r['space']:6s} {r['n_train']:5d} {r['n_test']:5d}  {r['mae_ours']:9.4g} "
              f"{r['mae_knn']:9.4g} {r['mae_rf']:9.4g}  {r['r2_ours']:7.3f} {r['r2_knn']:6.3f} "
              f"{r['r2_rf']:6.3f}  {r['coverage']:5.2f}  {r['mae_ours'] / best:9.3f}", flush=True)
    beaten = [r for r in rows if r["mae_ours"] < min(r["mae_knn"], r["mae_rf"])]
    ratio = np.mean([r["mae_ours"] / min(r["mae_knn"], r["mae_rf"]) for r in rows])
    print(f"\nours beats both baselines on {len(beaten)}/{len(rows)} models; mean ours/best-baseline MAE "
          f"ratio {ratio:.3f}")
    for r in rows:
        if r["model"].split("__")[0] in MUST_BEAT:
            won = "beats" if r in beaten else "does NOT beat"
            print(f"  {r['model']}: ours {won} both (MAE {r['mae_ours']:.4g} vs kNN {r['mae_knn']:.4g}, "
                  f"RF {r['mae_rf']:.4g}); test MAE by domain verdict {r['mae_by_verdict']}")
    tg = next((r for r in rows if r["model"] == "tg__experimental"), None)
    if tg is not None:
        print(f"  experimental Tg test MAE {tg['mae_ours']:.1f} K (target <= 30 K): "
              f"{'met' if tg['mae_ours'] <= 30 else 'NOT met'}")
    lat_model = "tg" if "tg__experimental" in names else names[0].split("__")[0]
    con = connect_read_only(KBPaths(args.kb_dir).db)
    keys = [k for (k,) in con.execute("""
        SELECT p.key FROM polymers p JOIN property_summary s USING (polymer_id)
        WHERE s.property = ? AND p.split = 'test' AND p.status = 'linear' ORDER BY p.polymer_id LIMIT ?""",
                                      [lat_model, args.latency_n]).fetchall()]
    con.close()
    lat = latency(args.kb_dir, keys, lat_model)
    print(f"\nlatency over {len(keys)} test polymers ({lat_model}): estimate_property p50 "
          f"{lat['tool_p50_ms']:.1f} ms (p90 {lat['tool_p90_ms']:.1f}); bare features_of p50 "
          f"{lat['features_of_p50_ms']:.2f} ms; ratio {lat['ratio_p50']:.1f}x")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    log_scale = {n: PROPERTIES[n.split("__")[0]].log_scale for n in chosen}
    result = {"kb_version": kb_version, "models": rows, "latency": lat, "log_scale": log_scale}
    OUT.write_text(json.dumps(result, indent=1))
    print(f"wrote {OUT} ({time.perf_counter() - start:.0f} s in all)")


if __name__ == "__main__":
    main()
