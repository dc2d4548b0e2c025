"""Throughput of kb.features: a plain single-process loop vs batch_featurize(n_jobs), and where the time goes.

    python -m bench.bench_features                  # 20,000 SMiPoly units, n_jobs=2
    python -m bench.bench_features --n 5000 --repeats 2

Prints units/s of both (wall clock, same run, same keys), the ratio of the parallel rate to n_jobs x the
single rate (project target >= 0.8), the load average (other processes on the machine lower both),
per-stage time shares, and two equivalence checks: features computed in reverse order against the forward
order (a unit's features must not depend on what the process computed before), and the plain-link
shortcut against the dimer count.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from rdkit.Chem import rdMolDescriptors

from kb import features as F
from kb.errors import InvalidPolymerError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "smipoly" / "SMiPoly_001_generatedPolymer.csv.gz"


def sample_keys(path: Path, n: int, seed: int) -> list[str]:
    """n PSMILES from the SMiPoly generated-polymer file (column polym), a fixed random sample."""
    import pandas as pd  # here, not at the top: spawned workers re-import this module as __mp_main__

    polym = pd.read_csv(path, usecols=["polym"])["polym"].dropna()
    return polym.sample(n=min(n, len(polym)), random_state=seed).tolist()


def _cpu_seconds() -> float:
    """CPU seconds used so far by this process and its finished children (the pool workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def single_rate(keys: list[str]) -> tuple[float, float]:
    """(wall, CPU) units/s of a plain loop computing features + fingerprint of each key."""
    start, cpu = time.perf_counter(), _cpu_seconds()
    for key in keys:
        try:
            F._features_and_fp(key)
        except InvalidPolymerError:
            pass
    return len(keys) / (time.perf_counter() - start), len(keys) / (_cpu_seconds() - cpu)


def parallel_rate(keys: list[str], n_jobs: int) -> tuple[float, float, int]:
    """(wall, CPU of parent + workers) units/s of batch_featurize(n_jobs) and its failures."""
    start, cpu = time.perf_counter(), _cpu_seconds()
    _, _, reasons = F.batch_featurize(keys, n_jobs=n_jobs)
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    return len(keys) / wall, len(keys) / cpu, sum(r is not None for r in reasons)


def stage_times(keys: list[str]) -> dict[str, float]:
    """Seconds per stage over the keys, each stage timed on its own."""
    mols = [F._to_mol(k) for k in keys]
    stars = [F._stars(m, k) for m, k in zip(mols, keys)]
    elements = [F._element_counts(rdMolDescriptors.CalcMolFormula(m)) for m in mols]
    pairs = [F._chain_pair(m, s) for m, s in zip(mols, stars)]

    def clock(fn: Callable[[int], object]) -> float:
        start = time.perf_counter()
        for i in range(len(keys)):
            fn(i)
        return time.perf_counter() - start

    def simple(i: int) -> None:
        m = mols[i]
        rdMolDescriptors.CalcMolFormula(m), rdMolDescriptors._CalcMolWt(m), rdMolDescriptors.CalcTPSA(m)
        rdMolDescriptors.CalcNumHBD(m), rdMolDescriptors.CalcNumRings(m), rdMolDescriptors.CalcFractionCSP3(m)

    return {
        "parse + star check": clock(lambda i: F._stars(F._to_mol(keys[i]), keys[i])),
        "Morgan fingerprint": clock(lambda i: F.fingerprint_of_mol(mols[i])),
        "formula, MW, TPSA, HBD, rings, Fsp3": clock(simple),
        "dimer/trimer build (non-plain linear)": clock(lambda i: F._chain_pair(mols[i], stars[i])),
        "groups + HBA + rotatable (SMARTS)": clock(lambda i: F._group_counts(mols[i], stars[i], elements[i], pairs[i])),
        "Crippen logP/MR": clock(lambda i: F._crippen(mols[i], stars[i], pairs[i])),
        "backbone path": clock(lambda i: F._backbone(mols[i], stars[i]) if len(stars[i]) == 2 else None),
    }


def order_mismatches(keys: list[str]) -> int:
    """Units whose features differ when the keys are featurised in reverse order (must be 0)."""
    def features(key: str) -> tuple | None:
        try:
            return F._features_and_fp(key)
        except InvalidPolymerError:
            return None

    forward = [features(k) for k in keys]
    backward = [features(k) for k in reversed(keys)][::-1]
    return sum(a != b for a, b in zip(forward, backward))


def shortcut_mismatches(keys: list[str]) -> tuple[int, int]:
    """(plain-link units checked, those whose features differ from the dimer-counted ones)."""
    plain = [k for k in keys if k.count("*") == 2 and F._chain_pair(F._to_mol(k), F._stars(F._to_mol(k), k)) is None]
    return len(plain), sum(F._features_and_fp(k) != F._features_and_fp(k, shortcut=False) for k in plain)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="number of SMiPoly units")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the parallel run")
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs of each")
    parser.add_argument("--stage-n", type=int, default=5_000, help="units for the stage shares and checks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)

    keys = sample_keys(args.data, args.n, args.seed)
    stars = Counter(k.count("*") for k in keys)
    print(f"{len(keys)} units from {args.data.name}; stars per unit: {dict(sorted(stars.items()))}")
    print(f"cpu_count={os.cpu_count()}  load average before: {os.getloadavg()[0]:.2f}")

    start = time.perf_counter()
    F.batch_featurize(keys[:2], n_jobs=args.jobs)
    print(f"pool start-up (spawn, {args.jobs} workers, 2 units): {time.perf_counter() - start:.2f} s")

    singles, parallels = [], []
    for _ in range(args.repeats):
        singles.append(single_rate(keys))
        *rates, failed = parallel_rate(keys, args.jobs)
        parallels.append(rates)
    (single, single_cpu), (parallel, parallel_cpu) = max(singles), max(parallels)
    print(f"failed units: {failed}")
    print(f"single process: {single:6.0f} units/s wall  {single_cpu:6.0f} units/CPU-s")
    print(f"n_jobs={args.jobs}:       {parallel:6.0f} units/s wall  {parallel_cpu:6.0f} units/CPU-s (parent + workers)")
    print(f"ratio parallel / ({args.jobs} x single), wall: {parallel / (args.jobs * single):.2f}  (target >= 0.8)")
    print(f"CPU efficiency of the pool (single CPU-s per unit / pool CPU-s per unit): {parallel_cpu / single_cpu:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f} (above 0 means other processes shared the {os.cpu_count()} cores)")

    subset = keys[: args.stage_n]
    times = stage_times(subset)
    total = sum(times.values())
    print(f"\nstage shares over {len(subset)} units ({len(subset) / total:.0f} units/s summed):")
    for name, seconds in times.items():
        print(f"  {name:40s} {seconds / len(subset) * 1e6:7.1f} us/unit  {seconds / total:6.1%}")
    print(f"\nfeatures in reverse order vs forward order: {order_mismatches(subset)} differing units of "
          f"{len(subset)}")
    checked, differ = shortcut_mismatches(subset)
    print(f"plain-link shortcut vs dimer counts: {differ} differing units of {checked} checked")


if __name__ == "__main__":
    main()
