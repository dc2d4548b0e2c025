"""Latency of the structure and look-up tools on the FULL KB, against baselines measured in the same run.

    python -m bench.bench_tools                       # .polybench/kb, ~100 calls per tool, test-split view
    python -m bench.bench_tools --n 30 --view full    # fewer calls, nothing hidden

Needs a built KB (`python -m kb.build`, which also builds the structure index for fragment search and the
class table); the first line reports how long loading the index took.
Calls are varied real ones: KB polymers sampled with a fixed seed (by id, name or key), measured
(polymer, property) pairs, constraint sets drawn from the property value quantiles, common and rare
fragments. Baselines: a bare `SELECT 1` round trip on a warm DuckDB connection and a bare RDKit parse
of a repeat unit. Prints p50 / p95 in ms and p50 as a multiple of each baseline.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from rdkit import Chem

from kb.config import DEFAULT_KB_DIR
from tools.connections import connection
from tools.kb_view import KBView
from tools.lookup import (
    FindArgs,
    PolymerRecordArgs,
    PropertyInfoArgs,
    PropertyValuesArgs,
    find_polymers,
    get_property_values,
    polymer_record,
    property_info,
)
from tools.schema import Constraint
from tools.structure import (
    CompareArgs,
    DescribeArgs,
    SubstructureArgs,
    ValidateArgs,
    compare_polymers,
    describe_polymer,
    substructure_search,
    validate_polymer,
)
from tools.structure_index import structure_index

COMMON = ["c1ccccc1", "C(=O)O", "C(=O)N", "OCCO", "C=O", "C(F)(F)F", "*C(*)C", "[#6]-[#8]-[#6]", "C#N",
          "O=C1NC(=O)c2ccccc21", "[Si]", "Cl"]
RARE = ["[Se]", "P(=O)(O)O", "c1ccc2c(c1)sc1ccccc12", "FC(F)(F)C(F)(F)C(F)(F)C(F)(F)F", "[N+](=O)[O-]",
        "C1CC1", "[Si]O[Si]O[Si]", "c1ccc2ccccc2c1", "N=C=O", "[B]", "S(=O)(=O)N", "c1ccncc1"]
GROUPS = ["ester", "amide", "ether", "fluoro", "phenyl", "imide", "siloxane", "sulfone", "nitrile", "hydroxyl"]
CLASSES = ["polyester", "polyamide", "polyimide", "polyether", "polyolefin", "polysulfone", "polycarbonate"]


def timed(fn: Callable[[], object], repeats: int = 1) -> list[float]:
    """Milliseconds per call of fn, once per repeat."""
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def sample_calls(view: KBView, n: int, seed: int) -> dict[str, list[Callable[[], object]]]:
    """n varied real calls per tool, drawn from the KB with a fixed seed."""
    rng = random.Random(seed)
    con = connection(view)
    polymers = con.execute("SELECT polymer_id, key, name FROM polymers WHERE n_measurements > 0 AND status = 'linear' "
                           "ORDER BY hash(polymer_id + ?) LIMIT ?", [seed, 3 * n]).fetchall()
    anything = [r[0] for r in con.execute("SELECT key FROM polymers ORDER BY hash(polymer_id + ?) LIMIT ?",
                                          [seed, n]).fetchall()]
    pairs = con.execute("SELECT DISTINCT polymer_id, property FROM measurements ORDER BY hash(polymer_id + ?) "
                        "LIMIT ?", [seed, n]).fetchall()
    quantiles = con.execute("SELECT property, quantile_cont(value, [0.2, 0.5, 0.8]) FROM measurements "
                            "GROUP BY 1 HAVING count(*) > 200").fetchall()

    def ref(row: tuple) -> str | int:  # a polymer as an agent would name it: id, name or SMILES
        return rng.choice([row[0], row[1]] + ([row[2]] if row[2] else []))

    def constraints() -> list[Constraint]:
        prop, (q20, q50, q80) = rng.choice(quantiles)
        low, high = rng.choice([(q20, q80), (q50, None), (None, q50), (q20, None)])
        out = [Constraint(type="property_range", property=prop, min=low, max=high)]
        if rng.random() < 0.5:
            out.append(Constraint(type=rng.choice(["require_group", "forbid_group"]), group=rng.choice(GROUPS)))
        if rng.random() < 0.2:
            out.append(Constraint(type="polymer_class", value=rng.choice(CLASSES)))
        if rng.random() < 0.2:
            out.append(Constraint(type="data_kind", value="experimental"))
        return out

    props = [q[0] for q in quantiles]
    refs = [ref(r) for r in polymers]
    queries = [(constraints(), rng.choice([*props, None])) for _ in range(n)]
    names = [rng.choice([*props, None]) for _ in range(n)]
    return {
        "validate_polymer": [lambda t=t: validate_polymer(view, ValidateArgs(polymer=t)) for t in anything],
        "describe_polymer": [lambda r=r: describe_polymer(view, DescribeArgs(polymer=r)) for r in refs[:n]],
        "compare_polymers": [lambda a=a, b=b: compare_polymers(view, CompareArgs(polymer_a=a[1], polymer_b=b[1]))
                             for a, b in zip(polymers[:n], polymers[n: 2 * n])],
        "substructure (common)": [lambda f=f: substructure_search(view, SubstructureArgs(fragment=f))
                                  for f in (COMMON * n)[:n]],
        "substructure (rare)": [lambda f=f: substructure_search(view, SubstructureArgs(fragment=f))
                                for f in (RARE * n)[:n]],
        "substructure (+property)": [lambda f=f, q=q: substructure_search(
            view, SubstructureArgs(fragment=f, with_property=q)) for f, q in
            zip((COMMON + RARE) * n, (props * 3 * n))][:n],
        "get_property_values": [lambda pid=pid, q=q: get_property_values(
            view, PropertyValuesArgs(polymer=pid, property=q)) for pid, q in pairs],
        "find_polymers": [lambda c=c, r=r: find_polymers(view, FindArgs(constraints=c, rank_by=r))
                          for c, r in queries],
        "property_info": [lambda q=q: property_info(view, PropertyInfoArgs(name=q)) for q in names],
        "polymer_record": [lambda r=r: polymer_record(view, PolymerRecordArgs(polymer=r)) for r in refs[2 * n: 3 * n]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, default=DEFAULT_KB_DIR)
    parser.add_argument("--n", type=int, default=100, help="calls per tool")
    parser.add_argument("--view", choices=["test", "full"], default="test", help="hide dev+test values or not")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    view = KBView.for_split(args.kb_dir, "test") if args.view == "test" else KBView(args.kb_dir)
    start = time.perf_counter()
    index = structure_index(view)
    print(f"structure index: {len(index)} polymers loaded in {time.perf_counter() - start:.1f} s")
    con = connection(view)
    keys = [r[0] for r in con.execute("SELECT key FROM polymers ORDER BY hash(polymer_id) LIMIT 200").fetchall()]
    select_1 = statistics.median(timed(lambda: con.execute("SELECT 1").fetchone(), 300))
    parse = statistics.median([t for k in keys for t in timed(lambda k=k: Chem.MolFromSmiles(k))])
    print(f"baselines: SELECT 1 round trip {select_1:.3f} ms, RDKit parse of a repeat unit {parse:.3f} ms")
    calls = sample_calls(view, args.n, args.seed)
    for fns in calls.values():  # warm-up: first-call caches (counts, class table, connection per view)
        fns[0]()
    print(f"{'tool':26s} {'n':>4s} {'p50 ms':>8s} {'p95 ms':>8s} {'p50/SELECT1':>12s} {'p50/parse':>10s}")
    for name, fns in calls.items():
        times = [t for fn in fns for t in timed(fn)]
        p50 = statistics.median(times)
        print(f"{name:26s} {len(times):4d} {p50:8.2f} {p(times, 95):8.2f} {p50 / select_1:12.1f} {p50 / parse:10.1f}")


if __name__ == "__main__":
    main()
