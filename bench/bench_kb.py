"""KB build and query benchmark: full build, no-op rebuild, filtered property query, fingerprint search.

    python -m bench.bench_kb                   # full build into a fresh temp folder (minutes)
    python -m bench.bench_kb --kb-dir .polybench/kb --skip-build   # queries on an existing KB

Baselines measured in the same run: reading every source file with pandas (for the build), `SELECT 1`
(for SQL latency), exact brute-force Tanimoto (for the fingerprint index). Prints ratios.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kb.build import build_kb
from kb.config import BuildConfig, KBPaths
from kb.fp_index import FingerprintIndex
from kb.manifest import load_manifest
from kb.store import connect_read_only

FILTERED_QUERY = """
SELECT p.polymer_id, p.name, s.value FROM property_summary s
JOIN polymers p USING (polymer_id) JOIN features f USING (polymer_id)
WHERE s.property = 'tg' AND s.value BETWEEN ? AND ? AND f.halogens = 0 AND f.n_ester > 0
ORDER BY s.value LIMIT 20"""


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def read_all_sources_baseline(data_dir: Path) -> float:
    """Seconds to read every mirrored table with pandas: the floor any build pays."""
    t = time.perf_counter()
    for src in load_manifest().files:
        path = data_dir / src.dataset / src.file
        if path.suffix == ".json":
            path.read_text()
        elif path.suffix == ".gz":
            with gzip.open(path) as fh:
                pd.read_csv(fh)
        else:
            pd.read_csv(path, encoding="latin-1")
    return time.perf_counter() - t


def query_latency(db: Path, repeats: int = 200) -> dict[str, float]:
    con = connect_read_only(db)
    base, filtered = [], []
    rng = np.random.default_rng(0)
    for _ in range(repeats):
        t = time.perf_counter()
        con.execute("SELECT 1").fetchall()
        base.append(time.perf_counter() - t)
        lo = float(rng.uniform(300, 500))
        t = time.perf_counter()
        con.execute(FILTERED_QUERY, [lo, lo + 50]).fetchall()
        filtered.append(time.perf_counter() - t)
    con.close()
    return {"select1_p50_ms": _p50(base), "filtered_p50_ms": _p50(filtered),
            "ratio": statistics.median(filtered) / statistics.median(base)}


def fingerprint_latency(paths: KBPaths, queries: int = 200) -> dict[str, float]:
    index = FingerprintIndex.load(paths.fp_index)
    con = connect_read_only(paths.db)
    rows = con.execute(f"SELECT morgan FROM fingerprints USING SAMPLE {queries} ROWS (reservoir, 1)").fetchall()
    con.close()
    fast, exact, recall = [], [], []
    for (blob,) in rows:
        fp = np.frombuffer(blob, dtype=np.uint8)
        t = time.perf_counter()
        hits = index.search(fp, k=10)
        fast.append(time.perf_counter() - t)
        t = time.perf_counter()
        truth = index.exact_search(fp, k=10)
        exact.append(time.perf_counter() - t)
        cutoff = truth[-1][1]  # ties at the 10th similarity count as hits
        recall.append(sum(sim >= cutoff - 1e-9 for _, sim in hits) / len(truth))
    return {"search_p50_ms": _p50(fast), "exact_p50_ms": _p50(exact),
            "speedup": statistics.median(exact) / statistics.median(fast), "recall@10": float(np.mean(recall))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--kb-dir", type=Path, default=None)
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    kb_dir = args.kb_dir or Path(tempfile.mkdtemp(prefix="bench_kb_"))
    config = BuildConfig(data_dir=args.data_dir, kb_dir=kb_dir, n_jobs=args.jobs)
    if not args.skip_build:
        baseline = read_all_sources_baseline(args.data_dir)
        t = time.perf_counter()
        report = build_kb(config)
        full = time.perf_counter() - t
        t = time.perf_counter()
        again = build_kb(config)
        noop = time.perf_counter() - t
        print(f"full build ({args.jobs} jobs, empty cache): {full:.1f} s = {full / baseline:.1f} x reading all "
              f"sources with pandas ({baseline:.1f} s); target <= 300 s")
        print("  stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items()))
        print(f"  {report.counts}")
        print(f"no-op rebuild: {noop:.2f} s (up_to_date={again.up_to_date}); target <= 10 s")
    q = query_latency(config.paths.db)
    print(f"filtered property query p50 {q['filtered_p50_ms']:.2f} ms = {q['ratio']:.1f} x SELECT 1 "
          f"({q['select1_p50_ms']:.3f} ms); target <= 20 ms")
    f = fingerprint_latency(config.paths)
    print(f"fingerprint search p50 {f['search_p50_ms']:.2f} ms vs exact {f['exact_p50_ms']:.2f} ms "
          f"({f['speedup']:.1f} x faster), recall@10 {f['recall@10']:.3f}; targets <= 5 ms, >= 0.9")


if __name__ == "__main__":
    main()
