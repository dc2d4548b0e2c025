"""Distillation throughput and verified yield, with the nearest-neighbour baseline in the same run.

    python -m bench.bench_distill --kb-dir .polybench/kb --tasks .polybench/tasks/tasks.jsonl \
        [--per-template 40] [--workers 2] [--dev-per-template 40]

1. Train split: the first N tasks of every template (file order) are distilled with `--workers` processes
   (agents.distill: teacher run with the asked polymers' own values hidden on property tasks, then
   verification). Prints tasks/s and the verified yield per category and template (goals: >= 20 tasks/s on
   2 cores; >= 95 % on structural, conceptual and synthesis/design).
2. Property categories, honestly compared: the teacher's answer accuracy next to eval.baselines'
   nearest-neighbour baseline on the same tasks. On train tasks the baseline may take the asked polymer's own
   train value (it is its own nearest train polymer), so the fair comparison runs on the dev split too, where
   neither sees the asked values.
A JSON copy goes to bench/out/bench_distill.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from agents.answers import answers_match
from agents.distill.run import DistillConfig, distill, shard_paths
from agents.files import read_tasks, write_tasks
from agents.schema import Task, Trace
from eval.baselines import nearest_neighbour_baseline

GOAL_RATE = 20.0
GOAL_YIELD = 0.95
HIGH_YIELD = ("structural_understanding", "conceptual_knowledge", "synthesis_design")
VALUE_CATEGORIES = ("property_prediction", "property_comparison", "advanced_reasoning")


def first_per_template(tasks: list[Task], split: str, n: int) -> list[Task]:
    seen: Counter = Counter()
    out = []
    for t in tasks:
        if t.split == split and seen[t.template] < n:
            seen[t.template] += 1
            out.append(t)
    return out


def run_split(kb_dir: Path, tasks: list[Task], split: str, workers: int, work: Path) -> tuple[dict, list[dict]]:
    path = work / f"{split}.jsonl"
    write_tasks(path, tasks)
    out = work / f"out_{split}"
    start = time.perf_counter()
    summary = distill(DistillConfig(kb_dir=kb_dir, tasks=path, out=out, split=split, workers=workers))
    wall = time.perf_counter() - start
    records = [json.loads(line) for p in shard_paths(out) for line in p.read_text().splitlines() if line.strip()]
    return {"summary": summary.model_dump(), "wall_seconds": round(wall, 1),
            "tasks_per_second_wall": round(len(tasks) / wall, 2)}, records


def accuracy_table(records: list[dict], baseline) -> dict[str, dict[str, float]]:
    """Per template (value categories): teacher accuracy, kept share, baseline accuracy, n."""
    rows: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        task = Task.model_validate(r["task"])
        if task.category not in VALUE_CATEGORIES:
            continue
        trace = Trace.model_validate(r["trace"])
        row = rows[task.template]
        row["n"] += 1
        row["teacher"] += trace.final_answer is not None and answers_match(task.gold, trace.final_answer)
        row["kept"] += r["kept"]
        guess = baseline.answer(task)
        row["baseline"] += guess is not None and answers_match(task.gold, guess)
    return {t: {"n": c["n"], "teacher": round(c["teacher"] / c["n"], 3), "kept": round(c["kept"] / c["n"], 3),
                "nearest_neighbour": round(c["baseline"] / c["n"], 3)} for t, c in sorted(rows.items())}


def yields(records: list[dict]) -> tuple[dict, dict]:
    by_cat: dict[str, Counter] = defaultdict(Counter)
    by_tpl: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        for table, key in ((by_cat, r["task"]["category"]), (by_tpl, r["task"]["template"])):
            table[key]["n"] += 1
            table[key]["kept"] += r["kept"]
    def share(t):
        return {k: {"n": c["n"], "yield": round(c["kept"] / c["n"], 3)} for k, c in sorted(t.items())}
    return share(by_cat), share(by_tpl)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kb-dir", type=Path, default=Path(".polybench/kb"))
    p.add_argument("--tasks", type=Path, default=Path(".polybench/tasks/tasks.jsonl"))
    p.add_argument("--per-template", type=int, default=40)
    p.add_argument("--dev-per-template", type=int, default=40)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("bench/out/bench_distill.json"))
    args = p.parse_args()
    all_tasks = read_tasks(args.tasks)
    train_tasks = [t for t in all_tasks if t.split == "train"]
    baseline = nearest_neighbour_baseline(args.kb_dir, train_tasks)
    report: dict = {"kb_dir": str(args.kb_dir), "tasks": str(args.tasks), "workers": args.workers}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for split, n in (("train", args.per_template), ("dev", args.dev_per_template)):
            if n <= 0:
                continue
            sample = first_per_template(all_tasks, split, n)
            run, records = run_split(args.kb_dir, sample, split, args.workers, work)
            by_cat, by_tpl = yields(records)
            run.update(tasks=len(sample), yield_by_category=by_cat, yield_by_template=by_tpl,
                       property_accuracy=accuracy_table(records, baseline))
            report[split] = run
            rate = run["summary"]["steady_tasks_per_second"]
            print(f"\n== {split}: {len(sample)} tasks, {rate} tasks/s with warm workers "
                  f"({run['tasks_per_second_wall']} tasks/s wall incl. start-up; goal >= {GOAL_RATE:g} on 2 cores)")
            print(f"{'category':28s} {'n':>5s} {'yield':>6s}")
            for cat, row in by_cat.items():
                goal = f"  (goal >= {GOAL_YIELD:.0%})" if split == "train" and cat in HIGH_YIELD else ""
                print(f"{cat:28s} {row['n']:5d} {row['yield']:6.1%}{goal}")
            print(f"\n{'template':28s} {'n':>5s} {'yield':>6s}")
            for tpl, row in by_tpl.items():
                print(f"{tpl:28s} {row['n']:5d} {row['yield']:6.1%}")
            print(f"\n{'value template':28s} {'n':>5s} {'teacher':>8s} {'kept':>6s} {'NN base':>8s}")
            for tpl, row in run["property_accuracy"].items():
                print(f"{tpl:28s} {row['n']:5d} {row['teacher']:8.1%} {row['kept']:6.1%} "
                      f"{row['nearest_neighbour']:8.1%}")
            print("reject reasons:", run["summary"]["by_reason"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
