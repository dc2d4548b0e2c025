"""Speed and capacity of the advanced-reasoning templates, against a trivial template in the same run.

    python -m bench.bench_taskgen_reasoning                     # .polybench/kb, every split
    python -m bench.bench_taskgen_reasoning --split dev --want 425

Per split: the one-off per-pool look-ups (values, gas pairs, matched pairs) in seconds, how many distinct
items each template can draw from, and per template the tasks emitted by the real graph for `want`, the
draws and the draws/s, with the draws/s as a multiple of the baseline template structural's
`aromatic_ring_count` (one row look-up and one pydantic Task per draw) measured on the same pools.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agents.graph_taskgen import run_job
from agents.taskgen.base import TemplateContext
from agents.taskgen.pools import Pools
from agents.taskgen.registry import load_templates
from agents.taskgen.templates import reasoning
from kb.config import DEFAULT_KB_DIR

BASELINE = "aromatic_ring_count"


def _rate(ctx: TemplateContext, name: str, want: int) -> tuple[int, int, float]:
    """(tasks emitted, draws, draws per second) of one graph job."""
    t0 = time.perf_counter()
    state = run_job(ctx, name, want, seed=0)
    return len(state["emitted"]), state["attempts"], state["attempts"] / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, default=DEFAULT_KB_DIR)
    parser.add_argument("--split", action="append", choices=["train", "dev", "test"])
    parser.add_argument("--want", type=int, default=425, help="tasks per template and split")
    args = parser.parse_args()
    names = sorted(n for n, t in load_templates().items() if t.category == "advanced_reasoning")
    for split in args.split or ["dev", "test", "train"]:
        ctx = TemplateContext(Pools.load(args.kb_dir, split))
        t0 = time.perf_counter()
        pairs = reasoning._cached(ctx.pools, "pairs", reasoning._build_pairs)
        gas = reasoning._cached(ctx.pools, "gas", reasoning._build_gas)
        rows = reasoning._cached(ctx.pools, "unit_rows", reasoning._build_unit_rows)
        seeds = reasoning._cached(ctx.pools, "filter_seeds", reasoning._build_filter_seeds)
        print(f"[{split}] look-ups {time.perf_counter() - t0:.1f} s: {len(pairs)} matched-pair items, "
              f"{sum(len(v[0]) for v in gas.values())} polymers over {len(gas)} gas pairs, {len(rows)} unit rows, "
              f"{len(seeds)} filter properties")
        _, _, base = _rate(ctx, BASELINE, args.want)
        print(f"  baseline {BASELINE}: {base:,.0f} draws/s")
        for name in names:
            got, draws, rate = _rate(ctx, name, args.want)
            print(f"  {name:26s} {got:5d}/{args.want} tasks, {draws:6d} draws, {rate:7,.0f} draws/s "
                  f"({rate / base:.2f}x baseline)")


if __name__ == "__main__":
    main()
