"""Batched vs one-at-a-time HF generation on the same eval prompts, in the same run; and the default run's time.

    python -m bench.bench_eval_batching --tasks .polybench/tasks/tasks.jsonl --prompts 16
    python -m bench.bench_eval_batching --default-run --out /tmp/default-eval   # time `python -m eval.run`

Prints new tokens per second for batch size 1 and each larger batch size on the same prompts (sorted by
length, as eval.produce batches them; the same greedy outputs up to padding effects), and the ratio
(goal >= 2x). With --default-run it also times the
embedded default eval run in a subprocess (goal <= 15 min on 2 cores) and says which cells it skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import typer


def _rate(backbone, chats, batch_size: int, max_new_tokens: int) -> tuple[float, int, float]:
    began = time.perf_counter()
    outputs = backbone.generate(chats, max_new_tokens=max_new_tokens, batch_size=batch_size)
    seconds = time.perf_counter() - began
    tokens = sum(len(backbone.tokenizer(o, add_special_tokens=False)["input_ids"]) for o in outputs)
    return tokens / seconds, tokens, seconds


def main(
    tasks: Path = typer.Option(Path(".polybench/tasks/tasks.jsonl"), help="tasks file"),
    prompts: int = typer.Option(16, help="prompts (stratified test sample)"),
    batch_sizes: str = typer.Option("8,16", help="batch sizes compared with 1"),
    max_new_tokens: int = typer.Option(48, help="new tokens per prompt"),
    cot: bool = typer.Option(True, help="chain-of-thought prompts"),
    default_run: bool = typer.Option(False, help="also time the embedded default `python -m eval.run`"),
    out: Path = typer.Option(Path("/tmp/polybench-default-eval"), help="--out of the default run"),
) -> None:
    from agents.files import read_tasks
    from agents.solver.backbones import load_text_backbone
    from agents.solver.prompts import standalone_messages
    from eval.selection import stratified_sample

    sample = stratified_sample([t for t in read_tasks(tasks) if t.split == "test"], prompts)
    chats = sorted((standalone_messages(t, cot=cot) for t in sample), key=lambda c: len(c[-1]["content"]))
    backbone = load_text_backbone("hf:smollm2")
    backbone.generate(chats[:1], max_new_tokens=4, batch_size=1)  # warm-up
    one, tokens, seconds = _rate(backbone, chats, 1, max_new_tokens)
    result = {"prompts": len(chats), "max_new_tokens": max_new_tokens,
              "one_at_a_time": {"tokens_per_s": round(one, 2), "tokens": tokens, "seconds": round(seconds, 1)}}
    for size in (int(s) for s in batch_sizes.split(",")):
        rate, tokens, seconds = _rate(backbone, chats, size, max_new_tokens)
        result[f"batch_{size}"] = {"tokens_per_s": round(rate, 2), "tokens": tokens, "seconds": round(seconds, 1),
                                   "speedup": round(rate / one, 2)}
    print(json.dumps(result, indent=1))
    if default_run:
        began = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "eval.run", "--out", str(out)], capture_output=True, text=True)
        minutes = (time.perf_counter() - began) / 60
        print(json.dumps({"default_run_minutes": round(minutes, 2), "exit": proc.returncode,
                          "tail": (proc.stdout + proc.stderr).strip().splitlines()[-6:]}, indent=1))


if __name__ == "__main__":
    typer.run(main)
