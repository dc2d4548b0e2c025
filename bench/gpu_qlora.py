"""QLoRA throughput on one GPU: the gpu-qlora preset through training.trainer vs the plain baseline, same call.

ONE prepared script for the GPU machine (it has torch, transformers, peft, accelerate; NOT bitsandbytes or
liger-kernel, and no internet). Prepare here, carry, run there:
    pip download --no-deps bitsandbytes liger-kernel -d bench/wheels        # ~44 MB, fits the carry limit
    run(command="python bench/gpu_qlora.py", carry=["bench/wheels"], timeout_s=600)
It installs the carried wheels, reruns the baseline (../shared/bench/qlora_baseline.py: plain transformers +
peft + bitsandbytes, NF4 + double quant, bf16, LoRA r=16 on all linear layers, gradient checkpointing, SDPA,
random Qwen2.5-7B-shaped weights saved to /tmp/q7b), then times our trainer on the same weights, batch 4 x 2048,
same LoRA, one variant per subprocess (peak memory its own):
    ours        the preset as is: NF4 + double quant, bf16, paged AdamW 8-bit, gradient checkpointing,
                hidden states gathered at target tokens, LM head + cross-entropy in checkpointed chunks
    ours_liger  + liger kernels: fused RMSNorm / SwiGLU / RoPE, fused linear cross-entropy (no logits kept)
Every token is a target, as in the baseline (labels = inputs). Steps 3-8 are timed (baseline: the same).
Writes $OUT/gpu_qlora.json with tokens/s, s/step, peak GB and the ratio to the baseline's 4x2048 run.
Goal: >= 1.5x the baseline's tokens/s at no more peak memory (below 1.2x the GPU part is not done).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = Path(os.environ.get("OUT", "/tmp/out"))
WEIGHTS = Path("/tmp/q7b")
BATCH, LENGTH, STEPS, WARMUP = 4, 2048, 8, 2
VARIANTS = {"ours": [], "ours_liger": ["model.kernels=liger"]}


def install_wheels() -> None:
    import importlib.util

    wheels = sorted((ROOT / "bench" / "wheels").glob("*.whl"))
    missing = [w for w in wheels if importlib.util.find_spec(w.name.split("-")[0].replace("-", "_")) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *map(str, missing)], check=True)


def baseline_script() -> Path | None:
    for path in (ROOT / "shared" / "bench" / "qlora_baseline.py", ROOT.parent / "shared" / "bench" / "qlora_baseline.py"):
        if path.exists():
            return path
    return None


def make_weights() -> None:
    """Random Qwen2.5-7B-shaped weights in WEIGHTS, as the baseline makes them (when it did not run)."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    if (WEIGHTS / "config.json").exists():
        return
    cfg = Qwen2Config(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                      num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768,
                      rope_theta=1e6, tie_word_embeddings=False)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.save_pretrained(WEIGHTS)


def run_variant(name: str) -> dict:
    """Time one variant of our trainer on random tokens at BATCH x LENGTH (every token a target)."""
    import tempfile

    import torch
    from transformers import TrainerCallback, TrainingArguments

    from training.config import load_train_config
    from training.model import load_for_training
    from training.packing import PackedCollator
    from training.trainer import AssistantOnlyTrainer

    cfg = load_train_config("gpu-qlora", None, [f"model.base={WEIGHTS}", "data.packing=true", *VARIANTS[name]])
    began = time.time()
    model = load_for_training(cfg, WEIGHTS)
    load_s = time.time() - began
    g = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(BATCH * STEPS):
        ids = torch.randint(0, 150000, (LENGTH,), generator=g).tolist()
        rows.append({"input_ids": ids, "shift_labels": ids[1:] + [-100], "position_ids": list(range(LENGTH))})
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            torch.cuda.synchronize()
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            torch.cuda.synchronize()
            times.append(time.perf_counter() - self.t)

    torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, max_steps=STEPS, per_device_train_batch_size=BATCH,
                                 learning_rate=2e-4, lr_scheduler_type="constant", optim=cfg.train.optimizer, bf16=True,
                                 save_strategy="no", eval_strategy="no", logging_steps=10**6, report_to="none",
                                 remove_unused_columns=False, label_names=["shift_labels"], disable_tqdm=True)
        trainer = AssistantOnlyTrainer(model=model, args=args, train_dataset=rows, data_collator=PackedCollator(0),
                                       callbacks=[Clock()], loss_chunk=cfg.train.loss_chunk,
                                       fused_ce=cfg.model.kernels == "liger")
        trainer.train()
    timed = sum(times[WARMUP:])
    return {"variant": name, "load_s": round(load_s, 1), "s_per_step": round(timed / (STEPS - WARMUP), 3),
            "tokens_per_s": round((STEPS - WARMUP) * BATCH * LENGTH / timed),
            "peak_mem_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2), "sets": VARIANTS[name]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.variant:
        print(json.dumps(run_variant(args.variant)), flush=True)
        return 0
    install_wheels()
    report: dict = {"batch": f"{BATCH}x{LENGTH}", "variants": {}}
    script = baseline_script()
    if script is not None:   # also creates the random weights in /tmp/q7b
        done = subprocess.run([sys.executable, str(script)], env={**os.environ, "OUT": str(OUT)}, text=True,
                              capture_output=True, check=False)
        print(done.stdout[-2000:], done.stderr[-2000:] if done.returncode else "", flush=True)
        anchor = OUT / "qlora_anchor.json"
        report["baseline"] = json.loads(anchor.read_text()).get(f"{BATCH}x{LENGTH}") if anchor.exists() else None
    else:
        print("baseline script not found; ratios are left out", flush=True)
    make_weights()
    for name in VARIANTS:
        done = subprocess.run([sys.executable, __file__, "--variant", name], text=True, capture_output=True, check=False)
        if done.returncode != 0:
            report["variants"][name] = {"error": done.stderr[-1500:]}
            print(f"{name}: failed\n{done.stderr[-1500:]}", flush=True)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        base = report.get("baseline")
        if base:
            result["ratio_vs_baseline"] = round(result["tokens_per_s"] / base["tokens_per_s"], 3)
            result["peak_vs_baseline"] = round(result["peak_mem_gb"] / base["peak_mem_gb"], 3)
        report["variants"][name] = result
        print(json.dumps(result), flush=True)
    (OUT / "gpu_qlora.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
