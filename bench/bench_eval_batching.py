"""Batched vs one-at-a-time HF generation on the same eval prompts, in the same run; and the default run's time.

    python -m bench.bench_eval_batching --tasks .polybench/tasks/tasks.jsonl --prompts 16
    python -m bench.bench_eval_batching --default-run --out /tmp/default-eval   # time `python -m eval.run`

Prints new tokens per second for batch size 1 and each larger batch size on the same prompts (sorted by
length, as eval.produce batches them; the same greedy outputs up to padding effects), and the ratio
(goal >= 2x); sizes are measured in interleaved rounds so that other jobs' load hits each alike. With
--default-run it also times the embedded default eval run (on --kb-dir and --tasks) in a subprocess
(goal <= 15 min on 2 cores).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer


def _rate(backbone, chats, batch_size: int, max_new_tokens: int) -> tuple[float, int, float]:
    began = time.perf_counter()
    outputs = backbone.generate(chats, max_new_tokens=max_new_tokens, batch_size=batch_size)
    seconds = time.perf_counter() - began
    tokens = sum(len(backbone.tokenizer(o, add_special_tokens=False)["input_ids"]) for o in outputs)
    return tokens / seconds, tokens, seconds


def main(
    tasks: Annotated[Path, typer.Option(help="tasks file")] = Path(".polybench/tasks/tasks.jsonl"),
    prompts: Annotated[int, typer.Option(help="prompts (stratified test sample)")] = 16,
    batch_sizes: Annotated[str, typer.Option(help="batch sizes compared with 1")] = "16",
    max_new_tokens: Annotated[int, typer.Option(help="new tokens per prompt")] = 128,
    cot: Annotated[bool, typer.Option(help="chain-of-thought prompts")] = True,
    default_run: Annotated[bool, typer.Option(help="also time the embedded default `python -m eval.run`")] = False,
    out: Annotated[Path, typer.Option(help="--out of the default run")] = Path("/tmp/polybench-default-eval"),
    kb_dir: Annotated[Path, typer.Option(help="--kb-dir of the default run")] = Path(".polybench/kb"),
) -> None:
    from agents.files import read_tasks
    from agents.solver.backbones import load_text_backbone
    from agents.solver.prompts import standalone_messages
    from eval.selection import stratified_sample

    sample = stratified_sample([t for t in read_tasks(tasks) if t.split == "test"], prompts)
    chats = sorted((standalone_messages(t, cot=cot) for t in sample), key=lambda c: len(c[-1]["content"]))
    backbone = load_text_backbone("hf:smollm2")
    backbone.generate(chats[:1], max_new_tokens=4, batch_size=1)  # warm-up
    sizes = [int(x) for x in batch_sizes.split(",")]
    totals = {size: [0, 0.0] for size in [1, *sizes]}  # size -> [tokens, seconds]
    chunk = max(sizes)
    for start in range(0, len(chats), chunk):  # interleaved rounds: load from other jobs hits every size alike
        for size, total in totals.items():
            _, tokens, seconds = _rate(backbone, chats[start:start + chunk], size, max_new_tokens)
            total[0] += tokens
            total[1] += seconds
    one = totals[1][0] / totals[1][1]
    result = {"prompts": len(chats), "max_new_tokens": max_new_tokens, "cot": cot}
    for size, (tokens, seconds) in totals.items():
        result["one_at_a_time" if size == 1 else f"batch_{size}"] = {
            "tokens_per_s": round(tokens / seconds, 2), "tokens": tokens, "seconds": round(seconds, 1),
            "speedup": round(tokens / seconds / one, 2)}
    print(json.dumps(result, indent=1))
    if default_run:
        began = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "eval.run", "--out", str(out), "--kb-dir", str(kb_dir),
                               "--tasks", str(tasks)], capture_output=True, text=True, check=False)
        minutes = (time.perf_counter() - began) / 60
        print(json.dumps({"default_run_minutes": round(minutes, 2), "exit": proc.returncode,
                          "tail": (proc.stdout + proc.stderr).strip().splitlines()[-6:]}, indent=1))


if __name__ == "__main__":
    typer.run(main)
