"""Does the benchmark measure what it claims? Baselines, leaks and an independent gold audit on the test split.

    python -m bench.bench_baselines --kb-dir .polybench/kb --tasks .polybench/tasks/tasks.jsonl [--audit]

Prints, per template of the test split: tasks, chance level, the constant baseline's and the nearest-neighbour
baseline's pass rates (eval.baselines, fitted on the train split), with the goals (a number template: constant
<= 10 %; a choice / yes-no template: constant <= chance + 5 points). Then leak counts (question texts shared
across splits or repeated within test, design constraint sets shared with train, printed values that are
another test task's gold, polymers of one split in another split's tasks), the named-polymer share, task
counts per category against their targets, the task set's content hash and, with --audit, the wrong golds
per template by agents.taskgen.audit (independent of the template code). A JSON copy goes to bench/out/.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

from agents.answers import answers_match
from agents.files import read_tasks
from agents.schema import Task
from agents.taskgen.config import DEFAULT_PER_CATEGORY
from agents.taskgen.dedupe import design_key, question_key
from agents.taskgen.templates.design import check_design_answer
from agents.taskgen.writer import named_shares, task_set_hash
from eval.baselines import constant_baseline, nearest_neighbour_baseline
from kb.assemble import polymer_id_of
from tools.kb_view import KBView


def chance(task: Task) -> float | None:
    """Expected score of a uniform random answer (choice and yes/no only)."""
    if task.answer_type == "choice":
        return 1 / len(task.options or [1])
    return 0.5 if task.answer_type == "yes_no" else None


def scored(task: Task, answer, design_view: KBView) -> bool:
    if answer is None:
        return False
    if task.answer_type == "polymer":
        return bool(answer.polymer) and check_design_answer(design_view, task, answer.polymer)[0]
    return answers_match(task.gold, answer)


def baseline_table(kb_dir: Path, tasks: list[Task]) -> dict[str, dict]:
    train = [t for t in tasks if t.split == "train"]
    test = [t for t in tasks if t.split == "test"]
    t0 = time.perf_counter()
    baselines = [constant_baseline(train), nearest_neighbour_baseline(kb_dir, train)]
    fit = time.perf_counter() - t0
    view = KBView.for_split(kb_dir, "test")  # the test split's values hidden, as a solver sees the KB
    rows: dict[str, dict] = defaultdict(lambda: {"tasks": 0, "chance": 0.0, "constant": 0, "nearest_neighbour": 0})
    t0 = time.perf_counter()
    for task in test:
        row = rows[task.template]
        row["tasks"] += 1
        row["type"] = task.answer_type
        row["chance"] += chance(task) or 0.0
        for b in baselines:
            row[b.name] += scored(task, b.answer(task), view)
    out = {}
    for name, row in sorted(rows.items()):
        n = row["tasks"]
        entry = {"type": row["type"], "tasks": n, "constant": round(row["constant"] / n, 4),
                 "nearest_neighbour": round(row["nearest_neighbour"] / n, 4)}
        if row["type"] in ("choice", "yes_no"):
            entry["chance"] = round(row["chance"] / n, 4)
            entry["goal_met"] = entry["constant"] <= entry["chance"] + 0.05
        elif row["type"] == "number":
            entry["goal_met"] = entry["constant"] <= 0.10
        out[name] = entry
    out["_seconds"] = {"fit": round(fit, 1), "score": round(time.perf_counter() - t0, 1)}
    return out


def leak_counts(tasks: list[Task]) -> dict[str, int]:
    by_split = defaultdict(set)
    for t in tasks:
        by_split[t.split].add(question_key(t))
    test = [t for t in tasks if t.split == "test"]
    test_texts = Counter(question_key(t) for t in test)
    train_designs = {design_key(t) for t in tasks if t.split == "train" and design_key(t)}
    quoted, asked = defaultdict(set), defaultdict(set)  # (polymer id, property, kind) -> task ids
    for t in test:
        p = t.params
        labels = {r.label: polymer_id_of(r.psmiles) for r in p.polymers}
        for q in p.quoted_values:
            pid = labels.get(q.label, t.polymer_ids[0] if len(t.polymer_ids) == 1 else None)
            prop = p.property if q.label in labels else q.label
            quoted[(pid, prop, p.kind)].add(t.id)
        if p.property and not p.quoted_values:
            for pid in labels.values():
                asked[(pid, p.property, p.kind)].add(t.id)
        for c in t.constraints:
            if c.type == "property_range":
                for pid in t.polymer_ids:
                    asked[(pid, c.property, c.kind)].add(t.id)
    printed = sum(1 for key, ids in asked.items() for _ in ids if quoted.get(key, set()) - ids)
    split_of = {}
    crossing = 0
    for t in tasks:
        for pid in t.polymer_ids:
            if split_of.setdefault(pid, t.split) != t.split:
                crossing += 1
    return {
        "question_texts_shared_across_splits": len((by_split["train"] & (by_split["dev"] | by_split["test"]))
                                                   | (by_split["dev"] & by_split["test"])),
        "duplicate_questions_within_test": sum(n - 1 for n in test_texts.values() if n > 1),
        "test_design_tasks_with_train_constraint_twins": sum(design_key(t) in train_designs for t in test
                                                             if design_key(t)),
        "test_tasks_whose_gold_another_test_task_prints": printed,
        "polymers_in_tasks_of_two_splits": crossing,
    }


def category_counts(tasks: list[Task]) -> dict[str, dict]:
    found = Counter(t.category for t in tasks)
    return {c: {"tasks": found.get(c, 0), "target": n, "share_of_target": round(found.get(c, 0) / n, 4)}
            for c, n in DEFAULT_PER_CATEGORY.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, default=Path(".polybench/kb"))
    parser.add_argument("--tasks", type=Path, default=Path(".polybench/tasks/tasks.jsonl"))
    parser.add_argument("--audit", action="store_true", help="re-audit every test gold (slow: minutes)")
    args = parser.parse_args()
    tasks = read_tasks(args.tasks)
    result = {"task_set_hash": task_set_hash(tasks), "tasks": len(tasks),
              "categories": category_counts(tasks), "leaks": leak_counts(tasks), "named_test": named_shares(tasks),
              "baselines": baseline_table(args.kb_dir, tasks)}
    if args.audit:
        from agents.taskgen.audit import audit_tasks

        t0 = time.perf_counter()
        result["audit"] = audit_tasks(KBView(args.kb_dir), [t for t in tasks if t.split == "test"])
        result["audit_seconds"] = round(time.perf_counter() - t0, 1)
    out = Path("bench/out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "baselines.json").write_text(json.dumps(result, indent=1))
    print(f"task set {result['task_set_hash']}: {len(tasks):,} tasks")
    for cat, row in result["categories"].items():
        print(f"  {cat:26s} {row['tasks']:>7,} / {row['target']:,} ({row['share_of_target']:.0%})")
    print("leaks:", json.dumps(result["leaks"]))
    print("named (test):", json.dumps(result["named_test"]))
    print(f"{'template':26s} {'type':7s} {'tasks':>6s} {'chance':>7s} {'const':>7s} {'NN':>7s} goal")
    for name, row in result["baselines"].items():
        if name.startswith("_"):
            continue
        print(f"{name:26s} {row['type']:7s} {row['tasks']:>6,} {row.get('chance', float('nan')):>7.3f} "
              f"{row['constant']:>7.3f} {row['nearest_neighbour']:>7.3f} {row.get('goal_met', '')}")
    if args.audit:
        wrong = {k: v["wrong"] for k, v in result["audit"].items()}
        print(f"audit ({result['audit_seconds']} s): wrong golds per template {json.dumps(wrong)}")
        for name, row in result["audit"].items():
            for example in row["examples"][:2]:
                print(f"  {example}")


if __name__ == "__main__":
    main()
