"""Fingerprint index speed and recall on every SMiPoly + PolyMetriX polymer, and the grouped splits.

    .venv/bin/python -m bench.bench_retrieval                  # all ~576k unique polymers (~3 min on 2 cores)
    .venv/bin/python -m bench.bench_retrieval --limit 50000    # a seeded sample, quicker

Baselines measured in the same run: exact_search (brute-force Tanimoto over every polymer) for search
latency and recall@10; one worker for fingerprinting speed; a random 80/10/10 split by polymer for the
grouping evidence (how often a polymer's nearest neighbour shares its split, and how similar test
polymers are to their nearest train polymer).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem, RDLogger
from rdkit.Chem import rdFingerprintGenerator

from kb.fp_index import FingerprintIndex
from kb.splits import SPLITS, assign_splits, split_fractions

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"  # the read-only mirror
CHUNK = 10_000


def packed_fps(smiles: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Packed Morgan fingerprints (2048 bits, radius 2) of a chunk, with a parsed-ok mask."""
    RDLogger.DisableLog("rdApp.*")
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = np.zeros((len(smiles), 256), dtype=np.uint8)
    ok = np.zeros(len(smiles), dtype=bool)
    for i, text in enumerate(smiles):
        mol = Chem.MolFromSmiles(text)
        if mol is not None:
            fps[i], ok[i] = np.packbits(gen.GetFingerprintAsNumPy(mol)), True
    return fps, ok


def load_smiles(limit: int | None, seed: int) -> tuple[list[str], np.ndarray]:
    """Unique PolyMetriX PSMILES (measured) then unique SMiPoly polym strings; optionally a seeded sample."""
    tg = pd.read_csv(DATA_DIR / "polymetrix_tg" / "Polymer_Tg.csv")["PSMILES"].drop_duplicates()
    smipoly = pd.read_csv(DATA_DIR / "smipoly" / "SMiPoly_001_generatedPolymer.csv.gz", usecols=["polym"])["polym"]
    smipoly = smipoly[~smipoly.isin(set(tg))].drop_duplicates()
    if limit is not None and limit < len(tg) + len(smipoly):
        smipoly = smipoly.sample(max(limit - len(tg), 0), random_state=seed)
    smiles = tg.tolist() + smipoly.tolist()
    return smiles, np.arange(len(smiles)) < len(tg)


def timed_queries(fn, fps: np.ndarray, rows: np.ndarray, **kwargs) -> tuple[list, np.ndarray]:
    """Run fn on each row's fingerprint; return the results and per-query seconds."""
    results, seconds = [], []
    for row in rows:
        t = time.perf_counter()
        results.append(fn(fps[row], **kwargs))
        seconds.append(time.perf_counter() - t)
    return results, np.array(seconds)


def recall_at_k(approx: list, exact: list) -> tuple[float, float]:
    """Mean set recall@k, and the tie-aware one (an approximate hit as similar as the exact k-th counts)."""
    plain, tie_aware = [], []
    for a, e in zip(approx, exact, strict=True):
        ids_a, ids_e = {pid for pid, _ in a}, {pid for pid, _ in e}
        plain.append(len(ids_a & ids_e) / len(ids_e))
        tie_aware.append(min(1.0, sum(s >= e[-1][1] for _, s in a) / len(e)))
    return float(np.mean(plain)), float(np.mean(tie_aware))


def ms(seconds: np.ndarray, q: float) -> float:
    return float(np.percentile(seconds, q) * 1000)


def nearest_other(index: FingerprintIndex, fp: np.ndarray, own_id: int, allowed: np.ndarray | None) -> tuple[int, float]:
    """The exact nearest polymer other than own_id (optionally among allowed ids)."""
    hits = [h for h in index.exact_search(fp, k=2, allowed_ids=allowed) if h[0] != own_id]
    return hits[0] if hits else (-1, 0.0)


def grouping_report(index: FingerprintIndex, ids: np.ndarray, fps: np.ndarray, labels: np.ndarray,
                    rows: np.ndarray) -> dict[str, float]:
    """For test polymers: share whose nearest neighbour is also test; mean best Tanimoto to train and to test."""
    split_of = dict(zip(ids.tolist(), labels.tolist(), strict=True))
    train, test = ids[labels == "train"], ids[labels == "test"]
    same, to_train, to_test = [], [], []
    for row in rows:
        nn_id, _ = nearest_other(index, fps[row], int(ids[row]), None)
        same.append(split_of.get(nn_id) == "test")
        to_train.append(nearest_other(index, fps[row], int(ids[row]), train)[1])
        to_test.append(nearest_other(index, fps[row], int(ids[row]), test)[1])
    return {"nn_same_split": float(np.mean(same)), "best_tanimoto_to_train": float(np.mean(to_train)),
            "best_tanimoto_within_test": float(np.mean(to_test))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="polymers to use (default: all)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--grouping-queries", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    smiles, measured = load_smiles(args.limit, args.seed)
    chunks = [smiles[i:i + CHUNK] for i in range(0, len(smiles), CHUNK)]
    t = time.perf_counter()
    packed_fps(chunks[0])
    serial_rate = len(chunks[0]) / (time.perf_counter() - t)
    t = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        parts = list(pool.map(packed_fps, chunks))
    fp_seconds = time.perf_counter() - t
    fps = np.concatenate([p[0] for p in parts])
    ok = np.concatenate([p[1] for p in parts])
    fps, measured = fps[ok], measured[ok]
    ids = np.arange(len(fps), dtype=np.int64)
    print(f"polymers: {len(fps):,} ({int(measured.sum()):,} PolyMetriX measured; {int((~ok).sum())} unparseable)")
    print(f"fingerprints: {fp_seconds:.1f} s with {args.workers} workers = {len(fps) / fp_seconds:,.0f}/s; "
          f"1 worker {serial_rate:,.0f}/s -> speedup {len(fps) / fp_seconds / serial_rate:.2f}x")

    t = time.perf_counter()
    index = FingerprintIndex.build(ids, fps)
    print(f"index build: {time.perf_counter() - t:.1f} s (nlist {index.nlist}, nprobe {index.nprobe})")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        index.save(Path(tmp))
        saved = time.perf_counter() - t
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
        t = time.perf_counter()
        FingerprintIndex.load(Path(tmp))
        print(f"save {saved:.2f} s, load {time.perf_counter() - t:.2f} s, {size / 2**20:.0f} MiB on disk")

    rows = rng.choice(len(fps), args.queries, replace=False)
    approx, t_approx = timed_queries(index.search, fps, rows, k=10)
    exact, t_exact = timed_queries(index.exact_search, fps, rows, k=10)
    plain, tie_aware = recall_at_k(approx, exact)
    print(f"search       p50 {ms(t_approx, 50):6.2f} ms  p95 {ms(t_approx, 95):6.2f} ms")
    print(f"exact_search p50 {ms(t_exact, 50):6.2f} ms  p95 {ms(t_exact, 95):6.2f} ms  "
          f"-> search is {np.median(t_exact) / np.median(t_approx):.1f}x faster at p50")
    print(f"recall@10 over {len(rows)} queries: {plain:.3f} (tie-aware {tie_aware:.3f}); "
          f"self first with 1.0: {np.mean([a[0][1] == 1.0 for a in approx]):.3f}")

    t = time.perf_counter()
    labels, clusters = assign_splits(ids, fps, measured, seed=args.seed)
    split_seconds = time.perf_counter() - t
    sizes = np.bincount(clusters)
    fractions = split_fractions(labels, measured)
    print(f"splits: {split_seconds:.1f} s, {len(sizes)} clusters (median {int(np.median(sizes))}, max {sizes.max()})")
    for scope in ("all", "measured"):
        print(f"  {scope:8s} " + "  ".join(f"{s} {fractions[scope][s]:.4f}" for s in SPLITS))

    test_queries = rng.choice(np.flatnonzero(labels == "test"), 100, replace=False)
    for name, allowed, queries in (("random -> train", ids[labels == "train"], rows[:100]),
                                   ("random -> test", ids[labels == "test"], rows[:100]),
                                   ("test -> train", ids[labels == "train"], test_queries)):
        filtered, t_f = timed_queries(index.search, fps, queries, k=10, allowed_ids=allowed)
        exact_f, t_ef = timed_queries(index.exact_search, fps, queries, k=10, allowed_ids=allowed)
        print(f"allowed_ids {name:15s} ({len(allowed):,} ids): search p50 {ms(t_f, 50):5.2f} ms "
              f"p95 {ms(t_f, 95):5.2f} ms, exact p50 {ms(t_ef, 50):6.2f} ms; "
              f"recall@10 {recall_at_k(filtered, exact_f)[0]:.3f}")

    random_labels = rng.choice(np.array(SPLITS), size=len(ids), p=[0.8, 0.1, 0.1])
    for name, lab in (("grouped", labels), ("random ", random_labels)):
        for scope, pool in (("", lab == "test"), ("measured ", (lab == "test") & measured)):
            test_rows = rng.choice(np.flatnonzero(pool), min(args.grouping_queries, int(pool.sum())), replace=False)
            g = grouping_report(index, ids, fps, lab, test_rows)
            print(f"{name} split, {len(test_rows)} {scope}test polymers (exact): nearest neighbour also in test "
                  f"{g['nn_same_split']:.3f}; mean best Tanimoto to train {g['best_tanimoto_to_train']:.3f}, "
                  f"within test {g['best_tanimoto_within_test']:.3f}")


if __name__ == "__main__":
    main()
