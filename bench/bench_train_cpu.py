"""Training throughput on CPU: our trainer against a plain transformers + peft loop, same model, data and batch.

    python bench/bench_train_cpu.py                       # fixture chats (cot), 2 repeats, JSON to bench/out/
    python bench/bench_train_cpu.py --data .polybench/sft --variant cot --examples 48 --trl

Every method runs in its own subprocess (so peak RSS is its own), one thread each, methods interleaved over
the repeats so machine load hits them alike. All start from the same SmolLM2-135M-Instruct, the same LoRA
(r=16 on all linear layers), AdamW at the same learning rate, the same examples (assistant-only loss), and the
same examples per step. The first step of each pass is warm-up and not timed. Reported: non-padding tokens/s
(tokens of the examples themselves; padding is not counted for anyone) as the median over repeats and as the
best-of-repeats estimate (each step's fastest time: steps train the same examples in every repeat, so this is
the figure least disturbed by other jobs on a shared machine), s/step and peak RSS.
    plain        the reference loop: right-padded batches, model(input_ids, attention_mask, labels), full logits
    ours         training.trainer (Trainer + packed rows without padding + logits only at target tokens)
    ours_nopack  the same with data.packing=false (padding kept): what the target-only logits give alone
    trl          (--trl) stock TRL SFTTrainer, prompt/completion data, completion-only loss, no packing
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LR = 2e-4


def fixture_examples(n: int, variant: str) -> list[list[dict]]:
    """Chats built from the test fixtures' tasks and traces (used when no prepared data is given)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from train_data import distill_line, make_pair

    from training.examples import DistillRecord, build_example

    return [build_example(DistillRecord.model_validate_json(distill_line(*make_pair(i, "train", i))), variant).messages
            for i in range(n)]


def load_chats(args) -> list[list[dict]]:
    if args.data is None:
        return fixture_examples(args.examples, args.variant)
    from training.prepare import read_prepared

    return [e.messages for e in read_prepared(args.data, args.variant).train[: args.examples]]


def lora_model(folder):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.config.use_cache = False
    return get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))


def run_plain(folder, tokenizer, chats, per_step: int) -> list[tuple[int, float]]:
    """The reference: padded batches through model(..., labels=...), AdamW; (tokens, seconds) of each timed step."""
    import torch

    from training.tokens import IGNORE, tokenize_chat

    model = lora_model(folder).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR)
    toks = [tokenize_chat(tokenizer, c) for c in chats]
    timed = []
    for step, start in enumerate(range(0, len(toks), per_step)):
        batch = toks[start:start + per_step]
        width = max(len(t.input_ids) for t in batch)
        ids = torch.tensor([t.input_ids + [tokenizer.pad_token_id] * (width - len(t.input_ids)) for t in batch])
        mask = torch.tensor([[1] * len(t.input_ids) + [0] * (width - len(t.input_ids)) for t in batch])
        labels = torch.tensor([t.labels + [IGNORE] * (width - len(t.labels)) for t in batch])
        began = time.perf_counter()
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step > 0:
            timed.append((int(mask.sum()), time.perf_counter() - began))
    return timed


class _Clock:
    """A Trainer callback timing every step after the first and counting the non-padding tokens it trained on."""

    def __init__(self, tokens_per_step: list[int]) -> None:
        from transformers import TrainerCallback

        clock = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                clock.began = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step > 1:
                    clock.timed.append((tokens_per_step[state.global_step - 1], time.perf_counter() - clock.began))

        self.callback = Callback()
        self.began = 0.0
        self.timed: list[tuple[int, float]] = []


def run_ours(folder, tokenizer, chats, per_step: int, packing: bool, max_len: int) -> list[tuple[int, float]]:
    """training.trainer on the same examples, `per_step` examples per step (packed into rows of at most
    `max_len` tokens when packing: one long row would cost attention over all of it, quadratic in its length)."""
    import tempfile

    from transformers import TrainingArguments

    from training.packing import PackedCollator, pack_rows
    from training.tokens import tokenize_chat
    from training.trainer import AssistantOnlyTrainer

    toks = [tokenize_chat(tokenizer, c) for c in chats]
    steps_rows = []
    for start in range(0, len(toks), per_step):    # the same examples per step as the plain loop
        rows, _ = pack_rows(toks[start:start + per_step], max_len=max(max_len, *(len(t.input_ids) for t in toks)),
                            packing=packing)
        steps_rows.append(rows)
    rows_per_step = max(len(r) for r in steps_rows)
    dataset = []
    for rows in steps_rows:                           # pad each step to the same number of rows with empties
        dataset += rows + [{"input_ids": [tokenizer.pad_token_id], "shift_labels": [-100], "position_ids": [0]}] * (
            rows_per_step - len(rows))
    tokens_per_step = [sum(len(t.input_ids) for t in toks[s:s + per_step]) for s in range(0, len(toks), per_step)]
    clock = _Clock(tokens_per_step)
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, max_steps=len(steps_rows), per_device_train_batch_size=rows_per_step,
                                 learning_rate=LR, lr_scheduler_type="constant", optim="adamw_torch",
                                 save_strategy="no", eval_strategy="no", logging_steps=10**6, report_to="none",
                                 use_cpu=True, remove_unused_columns=False, label_names=["shift_labels"],
                                 dataloader_num_workers=0, disable_tqdm=True, seed=0)
        trainer = AssistantOnlyTrainer(model=lora_model(folder), args=args, train_dataset=dataset,
                                       data_collator=PackedCollator(tokenizer.pad_token_id), callbacks=[clock.callback])
        trainer._get_train_sampler = lambda *a, **k: None   # keep step order: step i trains the same examples
        trainer.train()
    return clock.timed


def run_trl(folder, tokenizer, chats, per_step: int) -> list[tuple[int, float]]:
    """Stock TRL SFTTrainer on prompt/completion chats (completion-only loss), CPU settings, no packing."""
    import tempfile

    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from training.tokens import tokenize_chat

    rows = [{"prompt": c[:-1], "completion": c[-1:]} for c in chats]
    tokens_per_step = [sum(len(tokenize_chat(tokenizer, c).input_ids) for c in chats[s:s + per_step])
                       for s in range(0, len(chats), per_step)]
    clock = _Clock(tokens_per_step)
    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(output_dir=tmp, max_steps=len(tokens_per_step), per_device_train_batch_size=per_step,
                         learning_rate=LR, lr_scheduler_type="constant", save_strategy="no", logging_steps=10**6,
                         report_to="none", use_cpu=True, bf16=False, gradient_checkpointing=False, packing=False,
                         max_length=2048, disable_tqdm=True, seed=0, dataset_num_proc=1)
        trainer = SFTTrainer(model=lora_model(folder), args=args, train_dataset=Dataset.from_list(rows),
                             processing_class=tokenizer, callbacks=[clock.callback])
        trainer._get_train_sampler = lambda *a, **k: None
        trainer.train()
    return clock.timed


def one_method(args) -> dict:
    import torch

    from agents.solver.backbones import smollm2_dir
    from training.model import load_tokenizer

    torch.set_num_threads(1)
    folder = smollm2_dir()
    tokenizer = load_tokenizer(folder)
    chats = [c for c in load_chats(args) if c[-1]["role"] == "assistant"]
    if args.method == "plain":
        timed = run_plain(folder, tokenizer, chats, args.per_step)
    elif args.method == "trl":
        timed = run_trl(folder, tokenizer, chats, args.per_step)
    else:
        timed = run_ours(folder, tokenizer, chats, args.per_step, packing=args.method == "ours", max_len=args.max_len)
    tokens, seconds = sum(t for t, _ in timed), sum(s for _, s in timed)
    return {"method": args.method, "tokens": tokens, "seconds": round(seconds, 2), "steps": len(timed),
            "step_seconds": [round(s, 3) for _, s in timed], "step_tokens": [t for t, _ in timed],
            "tokens_per_s": round(tokens / seconds, 1), "s_per_step": round(seconds / len(timed), 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def best_steps(runs: list[dict]) -> float:
    """Tokens/s with each step's fastest time over the repeats (steps train the same examples in every repeat),
    the estimate least disturbed by other work on a shared machine."""
    tokens = runs[0]["step_tokens"]
    fastest = [min(r["step_seconds"][i] for r in runs) for i in range(len(tokens))]
    return round(sum(tokens) / sum(fastest), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a prepared folder (training.prepare); default: fixture chats")
    parser.add_argument("--variant", default="cot")
    parser.add_argument("--examples", type=int, default=40)
    parser.add_argument("--per-step", type=int, default=8, help="examples per optimiser step, for every method")
    parser.add_argument("--max-len", type=int, default=512, help="packed row length (the cpu-smollm2 preset's)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--trl", action="store_true", help="also time stock TRL SFTTrainer")
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "bench_train_cpu.json")
    args = parser.parse_args()
    if args.method:
        print(json.dumps(one_method(args)))
        return 0
    methods = ["plain", "ours", "ours_nopack"] + (["trl"] if args.trl else [])
    results: dict[str, list[dict]] = {m: [] for m in methods}
    for repeat in range(args.repeats):
        for method in methods:
            cmd = [sys.executable, __file__, "--method", method, "--variant", args.variant,
                   "--examples", str(args.examples), "--per-step", str(args.per_step), "--max-len", str(args.max_len)]
            if args.data:
                cmd += ["--data", str(args.data)]
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{method}: failed\n{done.stderr[-1500:]}", file=sys.stderr)
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            results[method].append(result)
            print(f"repeat {repeat} {method:12s} {result['tokens_per_s']:8.1f} tok/s  {result['s_per_step']:6.2f} s/step"
                  f"  peak RSS {result['peak_rss_mb']:7.1f} MB", flush=True)
    summary = {m: {"tokens_per_s": statistics.median(r["tokens_per_s"] for r in rs),
                   "tokens_per_s_best": best_steps(rs),
                   "peak_rss_mb": max(r["peak_rss_mb"] for r in rs)} for m, rs in results.items() if rs}
    base = summary.get("plain", {})
    for s in summary.values():
        s["ratio_vs_plain"] = round(s["tokens_per_s"] / base["tokens_per_s"], 3) if base else None
        s["ratio_vs_plain_best"] = round(s["tokens_per_s_best"] / base["tokens_per_s_best"], 3) if base else None
    report = {"examples": args.examples, "per_step": args.per_step, "max_len": args.max_len, "variant": args.variant,
              "data": str(args.data) if args.data else "fixtures", "runs": results, "summary": summary}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for name, s in summary.items():
        print(f"{name:12s} median {s['tokens_per_s']:8.1f} tok/s (x{s['ratio_vs_plain']} vs plain)  best-of-repeats "
              f"{s['tokens_per_s_best']:8.1f} tok/s (x{s['ratio_vs_plain_best']})  peak RSS {s['peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
