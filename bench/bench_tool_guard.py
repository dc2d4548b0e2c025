"""The tools' guard: hostile calls per tool (refused / crashed / raised / over budget) and its overhead.

    python -m bench.bench_tool_guard --kb-dir .polybench/kb            # full KB, test view, all tools
    python -m bench.bench_tool_guard --kb-dir .polybench/kb --tool sql --skip-overhead

Fuzz: every hostile call of bench/hostile_calls.py, through the LangChain tool (`tool.invoke`), each tool
in its own worker process so that a crash (segfault) is counted and the run goes on after it. A call
is refused when it answers ok=false (validate_polymer: valid=false); raised counts exceptions out of
invoke; over budget counts calls slower than BUDGET_S.
Overhead: on ordinary calls (KB polymers, monomers and property names drawn with a fixed seed), p50 of the tool function called
directly on already-validated arguments against, in the same process and interleaved, (1) argument
validation alone (the argument model with every limit) and (2) the whole guarded call (`call_tool`:
validation, the call, the ToolResult JSON the model reads).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.hostile_calls import GOOD_CALLS, all_hostile_calls, refused
from tools.kb_view import KBView
from tools.langchain_tools import build_tools, call_tool, tool_specs

BUDGET_S = 5.0  # a tool call an agent can wait for; the SQL limit is 2 s, fragment search 3 s


def _context(kb_dir: Path):
    """An EstimateContext when the KB has surrogate models, else None (estimate_property is then skipped)."""
    from tools.errors import ToolError
    from tools.estimate import EstimateContext

    ctx = EstimateContext(KBView.for_split(kb_dir, "test"))
    try:
        ctx.cards  # noqa: B018 - loads the cards or says there are none
    except ToolError:
        return None
    return ctx


def fuzz_worker(kb_dir: Path, tool: str, start: int) -> None:
    """Run one tool's hostile calls from index `start`, one JSON line per call on stdout."""
    view = KBView.for_split(kb_dir, "test")
    tools = {t.name: t for t in build_tools(view, _context(kb_dir))}
    target = tools[tool]
    target.invoke(GOOD_CALLS[tool])  # warm-up: loads indexes, models and the SQL worker once
    for i, (label, raw) in enumerate(all_hostile_calls(tool, target.args_schema)):
        if i < start:
            continue
        began = time.perf_counter()
        try:
            answer = json.loads(target.invoke(raw))
            outcome = "refused" if refused(tool, answer) else "ok"
        except Exception as exc:  # noqa: BLE001 - counted: the guard must never let one through
            outcome = f"raised {type(exc).__name__}"
        print(json.dumps({"i": i, "label": label, "outcome": outcome, "s": round(time.perf_counter() - began, 4)}),
              flush=True)


def fuzz_tool(kb_dir: Path, tool: str) -> dict:
    """Counts of one tool's hostile calls; the worker is restarted after a crash, past the crashing call."""
    rows, crashes, start = [], [], 0
    while True:
        proc = subprocess.run([sys.executable, "-m", "bench.bench_tool_guard", "--kb-dir", str(kb_dir), "--worker",
                               tool, "--start", str(start)], capture_output=True, text=True, check=False)
        got = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        rows += got
        if proc.returncode == 0:
            break
        if proc.returncode > 0 and not got:  # a Python error before any call, not a crash of one
            raise SystemExit(f"{tool} worker failed: {proc.stderr[-2000:]}")
        crashed = (got[-1]["i"] + 1) if got else start
        crashes.append(f"call {crashed} (exit {proc.returncode})")
        start = crashed + 1
    return {"tool": tool, "cases": len(rows) + len(crashes), "refused": sum(r["outcome"] == "refused" for r in rows),
            "answered ok": [r["label"] for r in rows if r["outcome"] == "ok"], "crashed": crashes,
            "raised": [f"{r['label']}: {r['outcome']}" for r in rows if r["outcome"].startswith("raised")],
            "over budget": [f"{r['label']} {r['s']:.1f}s" for r in rows if r["s"] > BUDGET_S],
            "max s": max((r["s"] for r in rows), default=0.0)}


def ordinary_calls(view: KBView, n: int, seed: int) -> dict[str, list[dict]]:
    """n ordinary argument sets per tool: GOOD_CALLS with KB polymers (keys, ids) drawn with a fixed seed."""
    from tools.connections import connection

    rng = random.Random(seed)
    keys = [r[0] for r in connection(view).execute(
        "SELECT key FROM polymers WHERE status = 'linear' AND n_measurements > 0 ORDER BY hash(polymer_id + ?) "
        "LIMIT ?", [seed, n]).fetchall()]
    ids = [r[0] for r in connection(view).execute(
        "SELECT polymer_id FROM polymers WHERE n_measurements > 0 ORDER BY hash(polymer_id + ?) LIMIT ?",
        [seed + 1, n]).fetchall()]
    monomers = [r[0] for r in connection(view).execute(
        "SELECT smiles FROM monomers ORDER BY hash(monomer_id + ?) LIMIT ?", [seed, n]).fetchall()]
    vinyls = [r[0] for r in connection(view).execute(
        "SELECT smiles FROM monomers WHERE list_contains(monomer_classes, 'vinyl') ORDER BY hash(monomer_id + ?) "
        "LIMIT ?", [seed, n]).fetchall()]
    properties = [r[0] for r in connection(view).execute("SELECT name FROM properties ORDER BY name").fetchall()]
    calls: dict[str, list[dict]] = {}
    for tool, good in GOOD_CALLS.items():
        variants = []
        for i in range(n):
            args = dict(good)
            if tool == "monomer_classes":
                args["monomer"] = monomers[i % len(monomers)]
            if tool == "forward_synthesis":
                args["monomers"] = [vinyls[i % len(vinyls)]]
            if tool == "property_info":
                args["name"] = properties[i % len(properties)]
            for field in ("polymer", "polymer_a"):
                if field in args:
                    args[field] = keys[i % len(keys)] if tool in ("validate_polymer", "retro_synthesis",
                                                                   "estimate_property") or i % 2 else ids[i % len(ids)]
            if "polymer_b" in args:
                args["polymer_b"] = keys[rng.randrange(len(keys))]
            variants.append(args)
        calls[tool] = variants
    return calls


def _ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def overhead(kb_dir: Path, n: int, seed: int, rounds: int = 3) -> list[dict]:
    """p50 (ms) of direct calls, validation alone and guarded calls per tool, interleaved call by call."""
    view = KBView.for_split(kb_dir, "test")
    specs = {s.name: s for s in tool_specs(_context(kb_dir))}
    out = []
    for tool, raws in ordinary_calls(view, n, seed).items():
        if tool not in specs:
            continue
        spec = specs[tool]
        parsed = [spec.args.model_validate(raw) for raw in raws]
        for args in parsed:  # warm-up, and only calls that work count
            spec.body(view, args)
        direct, validation, guarded = [], [], []
        for _ in range(rounds):
            for raw, args in zip(raws, parsed):
                direct.append(_ms(lambda a=args, s=spec: s.body(view, a)))
                validation.append(_ms(lambda r=raw, s=spec: s.args.model_validate(r)))
                guarded.append(_ms(lambda r=raw, s=spec: call_tool(s, view, r)))
        d, v, g = (statistics.median(x) for x in (direct, validation, guarded))
        out.append({"tool": tool, "n": len(direct), "direct p50 ms": d, "validation p50 ms": v,
                    "validation % of direct": 100 * v / d, "guarded p50 ms": g, "guarded overhead %": 100 * (g - d) / d})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, required=True)
    parser.add_argument("--tool", action="append", help="only these tools (repeatable)")
    parser.add_argument("--n", type=int, default=40, help="ordinary calls per tool for the overhead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-fuzz", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        fuzz_worker(args.kb_dir, args.worker, args.start)
        return
    has_models = _context(args.kb_dir) is not None
    tools = args.tool or [t for t in GOOD_CALLS if has_models or t != "estimate_property"]
    if not args.skip_fuzz:
        print(f"fuzz (budget {BUDGET_S:g} s per call), test view of {args.kb_dir}")
        print(f"{'tool':22s} {'cases':>6s} {'refused':>8s} {'ok':>4s} {'crash':>6s} {'raised':>7s} {'>budget':>8s} "
              f"{'max s':>6s}")
        for tool in tools:
            r = fuzz_tool(args.kb_dir, tool)
            print(f"{tool:22s} {r['cases']:6d} {r['refused']:8d} {len(r['answered ok']):4d} {len(r['crashed']):6d} "
                  f"{len(r['raised']):7d} {len(r['over budget']):8d} {r['max s']:6.2f}", flush=True)
            for kind in ("answered ok", "crashed", "raised", "over budget"):
                if r[kind]:
                    print(f"    {kind}: {r[kind][:8]}")
    if not args.skip_overhead:
        print(f"\noverhead on ordinary calls ({args.n} x 3 per tool), p50 in ms")
        print(f"{'tool':22s} {'n':>4s} {'direct':>8s} {'valid.':>8s} {'valid.%':>8s} {'guarded':>8s} {'guard+%':>8s}")
        for r in overhead(args.kb_dir, args.n, args.seed):
            if args.tool and r["tool"] not in args.tool:
                continue
            print(f"{r['tool']:22s} {r['n']:4d} {r['direct p50 ms']:8.3f} {r['validation p50 ms']:8.3f} "
                  f"{r['validation % of direct']:7.1f}% {r['guarded p50 ms']:8.3f} {r['guarded overhead %']:7.1f}%")


if __name__ == "__main__":
    main()
