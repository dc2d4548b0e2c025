"""Does fine-tuning on the traces help? Base SmolLM2 against SmolLM2 + the cpu-smollm2 adapter, on dev tasks.

    python bench/bench_sft_quality.py --work .polybench/sft-bench             # every stage, resumable
    python bench/bench_sft_quality.py --work DIR --variant cot+direct --variant direct   # two adapters
    python bench/bench_sft_quality.py --work DIR --stage summary              # only re-judge a finished eval

Stages, each skipped when its output is already in WORK (so a killed run continues):
    sample    stratified train tasks (more for the property categories, whose traces verify less often) and
              dev tasks, from the task file (eval.selection.stratified_sample, seeded, no random draw)
    distill   the reasoner teacher on both samples (python -m agents.distill), verified and kept or rejected
    prepare   cot and direct chat files (python -m training.prepare)
    train     python -m training.train --preset cpu-smollm2, one adapter per `--variant` into WORK/run-<variant>
              (default cot+direct: one adapter for both standalone modes; `direct` trains on the Answer line
              alone, with more examples in the same token budget since they are short)
    eval      python -m eval.run, base and every adapter standalone with the nearest-neighbour baseline in the
              same run: CoT off on `--eval-limit` dev tasks (100 per category) into WORK/eval-direct; CoT on
              (base and the adapters trained on CoT) on the first `--cot-limit` of the same stratified order (CoT
              generation is ~2x slower) into WORK/eval-cot
    summary   the issue's bar from each run's metrics.json: tuned beats base in >= 4 of 6 categories with the
              paired bootstrap 95 % interval of the difference above 0, and beats the baseline overall;
              written to WORK/summary.json and bench/out/sft_quality.json
The dev tasks used for eval loss during training are dev-split traces, never trained on; no test task is used.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRAIN_PER_CATEGORY = {"property_prediction": 1000, "advanced_reasoning": 600}  # low verified yield: ask more
TRAIN_DEFAULT = 420
DEV_PER_CATEGORY = 40
STAGES = ("sample", "distill", "prepare", "train", "eval", "summary")
VARIANT_SETTINGS = {"direct": ["data.per_category=360"]}  # ~220-token examples: ~1 epoch of 110 steps x 4,096


def run_dir(work: Path, variant: str) -> Path:
    """The training run folder of one variant (no '+' in it: the backbone spec uses '+adapter:')."""
    return work / f"run-{variant.replace('+', '-')}"


def write_samples(tasks_file: Path, work: Path, seed: int) -> None:
    """train_tasks.jsonl and dev_tasks.jsonl: per category, spread over templates by a seeded hash."""
    from agents.schema import Task
    from eval.selection import stratified_sample

    by: dict[tuple[str, str], list[Task]] = defaultdict(list)
    with tasks_file.open(encoding="utf-8") as f:
        for line in f:
            task = Task.model_validate_json(line)
            if task.split in ("train", "dev"):
                by[(task.split, task.category)].append(task)
    for split in ("train", "dev"):
        lines = []
        for (s, category), tasks in sorted(by.items()):
            if s == split:
                n = TRAIN_PER_CATEGORY.get(category, TRAIN_DEFAULT) if split == "train" else DEV_PER_CATEGORY
                lines += [t.model_dump_json() for t in stratified_sample(tasks, n, seed=seed)]
        (work / f"{split}_tasks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(cmd: list[str]) -> None:
    """One entry point as a subprocess of this interpreter; stops the bench when it fails."""
    print("+", " ".join(cmd), flush=True)
    subprocess.run([sys.executable, *cmd], cwd=ROOT, check=True)


def eval_config(work: Path, name: str, limit: int, max_new_tokens_cot: int) -> Path:
    """The eval.run config of one comparison run (TOML next to its outputs)."""
    text = "\n".join([
        'baselines = ["nearest_neighbour"]', 'split = "dev"', f"limit = {limit}", "sub_questions = false",
        f'out = "{work / name}"', "batch_size = 16", "max_new_tokens = 24",
        f"max_new_tokens_cot = {max_new_tokens_cot}", "threads = 2", ""])
    path = work / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def judge(metrics: dict) -> dict:
    """The issue's bar, per CoT setting: categories won with the interval above 0, and the baseline beaten."""
    bench = metrics["benchmarks"]["polybench"]
    out: dict = {}
    for name, per in bench["adapter_vs_base"].items():
        cats = {c: g for c, g in per.items() if c != "all"}
        won = sorted(c for c, g in cats.items() if g["ci95"] and g["ci95"][0] > 0)
        vs_nn = next((g["all"] for k, g in bench["vs_baseline"].items() if k.startswith(name + " vs ")), None)
        out[name] = {"categories_won": won, "n_won": len(won), "n_categories": len(cats),
                     "gain_by_category": {c: {"tuned": g["a"], "base": g["b"], "gain": g["gain"], "ci95": g["ci95"],
                                              "n": g["n"]} for c, g in cats.items()},
                     "overall": per.get("all"), "vs_nearest_neighbour": vs_nn,
                     "passes": len(won) >= 4 and bool(vs_nn and vs_nn["gain"] > 0)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / ".polybench" / "sft-bench")
    parser.add_argument("--tasks", type=Path, default=ROOT / ".polybench" / "tasks" / "tasks.jsonl")
    parser.add_argument("--kb-dir", type=Path, default=ROOT / ".polybench" / "kb")
    parser.add_argument("--stage", choices=STAGES, action="append", help="only these stages (default: all)")
    parser.add_argument("--eval-limit", type=int, default=600, help="dev tasks asked with CoT off")
    parser.add_argument("--cot-limit", type=int, default=300, help="dev tasks asked with CoT on")
    parser.add_argument("--max-new-tokens-cot", type=int, default=160)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--variant", action="append", choices=["cot+direct", "direct", "cot"],
                        help="train one adapter per variant (repeatable; default cot+direct)")
    args = parser.parse_args(argv)
    variants: list[str] = args.variant or ["cot+direct"]
    work: Path = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    stages = args.stage or list(STAGES)
    if "sample" in stages and not (work / "dev_tasks.jsonl").exists():
        write_samples(args.tasks, work, args.seed)
    for split in ("train", "dev"):
        if "distill" in stages and not (work / f"distill-{split}" / "summary.json").exists():
            run(["-m", "agents.distill", "--split", split, "--tasks", str(work / f"{split}_tasks.jsonl"),
                 "--kb-dir", str(args.kb_dir), "--out", str(work / f"distill-{split}"), "--workers", "2"])
    if "prepare" in stages and not (work / "sft" / "manifest.json").exists():
        run(["-m", "training.prepare", "--traces", str(work / "distill-train"), "--traces", str(work / "distill-dev"),
             "--out", str(work / "sft"), "--variants", "cot,direct"])
    for variant in variants:
        if "train" in stages and not (run_dir(work, variant) / "adapter" / "run_card.json").exists():
            run(["-m", "training.train", "--preset", "cpu-smollm2", "--data", str(work / "sft"),
                 "--out", str(run_dir(work, variant)), "--set", f"data.variant={variant}",
                 *[a for s in VARIANT_SETTINGS.get(variant, []) for a in ("--set", s)]])
    runs = {"eval-direct": ("off", args.eval_limit), "eval-cot": ("on", args.cot_limit)}
    for name, (cot, limit) in runs.items():
        if "eval" in stages and not (work / name / "metrics.json").exists():
            config = eval_config(work, name, limit, args.max_new_tokens_cot)
            # the cells as flags: eval.run then fails on a model that cannot load instead of skipping its cells
            models = ["hf:smollm2"] + [f"hf:smollm2+adapter:{run_dir(work, v) / 'adapter'}" for v in variants
                                       if cot == "off" or "cot" in v]
            run(["-m", "eval.run", *[a for m in models for a in ("--model", m)], "--mode", "standalone",
                 "--cot", cot, "--config", str(config), "--kb-dir", str(args.kb_dir), "--tasks", str(args.tasks)])
    if "summary" in stages:
        cards = {v: json.loads((run_dir(work, v) / "adapter" / "run_card.json").read_text(encoding="utf-8"))
                 for v in variants}
        summary: dict = {"run_cards": cards, "runs": {}}
        for name in runs:
            metrics = json.loads((work / name / "metrics.json").read_text(encoding="utf-8"))
            summary["runs"][name] = {"task_set_hash": metrics["meta"].get("task_set_hash"),
                                     "kb_version": metrics["meta"].get("kb_version"),
                                     "cell_seconds": metrics["meta"].get("cell_seconds"), "verdict": judge(metrics)}
        text = json.dumps(summary, indent=1) + "\n"
        (work / "summary.json").write_text(text, encoding="utf-8")
        (ROOT / "bench" / "out").mkdir(exist_ok=True)
        (ROOT / "bench" / "out" / "sft_quality.json").write_text(text, encoding="utf-8")
        for run_name, entry in summary["runs"].items():
            for cell, verdict in entry["verdict"].items():
                print(f"{run_name} {cell}: won {verdict['n_won']}/{verdict['n_categories']} categories "
                      f"{verdict['categories_won']}; vs NN {verdict['vs_nearest_neighbour']}; passes={verdict['passes']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
