"""Train a LoRA adapter on prepared chat examples (assistant tokens only), resumable, with a run card.

    python -m training.train --preset cpu-smollm2 --data .polybench/sft --out .polybench/runs/smollm2-cot
    python -m training.train --preset cpu-smollm2 --set data.variant=direct --set train.max_steps=50 \\
        --data .polybench/sft --out .polybench/runs/smollm2-direct
    python -m training.train --preset gpu-qlora --set model.base=/models/Qwen2.5-7B-Instruct --data DIR --out OUT

Settings: preset < --config FILE < --set section.key=value; unknown keys and contradictions are refused before
any data or model is loaded. Rerunning the same command after an interruption (even kill -9) continues from
the last whole checkpoint in OUT/checkpoints. OUT/adapter holds the adapter, the tokenizer and run_card.json;
OUT/tb the TensorBoard logs. The adapter loads as the backbone `hf:<base>+adapter:OUT/adapter`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import resource
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kb.errors import PolyBenchError
from kb.layered_config import ConfigError
from training.config import TrainConfig, check_environment, load_train_config
from training.examples import ChatExample
from training.packing import PackedCollator, PackStats, pack_rows
from training.prepare import read_prepared
from training.tokens import tokenize_chat

log = logging.getLogger(__name__)
RUN_CONFIG = "run_config.json"


class TrainError(PolyBenchError, ValueError):
    """A run that cannot start or continue (e.g. OUT holds a run with other settings or data)."""


def stratified_sample(examples: list[ChatExample], per_category: int | None, seed: int) -> list[ChatExample]:
    """At most `per_category` examples of each category (and variant, in a mixed run), chosen by a seeded hash
    of the id (stable, no RNG)."""
    if per_category is None:
        return list(examples)
    by_category: dict[tuple[str, str], list[ChatExample]] = defaultdict(list)
    for example in examples:
        by_category[(example.category, example.variant)].append(example)
    chosen = []
    for category in sorted(by_category):
        ranked = sorted(by_category[category],
                        key=lambda e: hashlib.sha256(f"{seed}:{e.id}".encode()).hexdigest())
        chosen += ranked[:per_category]
    return sorted(chosen, key=lambda e: e.id)


def rows_of(tokenizer, examples: list[ChatExample], cfg: TrainConfig) -> tuple[list[dict], PackStats]:
    chats = [tokenize_chat(tokenizer, e.messages) for e in examples]
    return pack_rows(chats, cfg.data.max_seq_len, cfg.data.packing)


def claim_out(out: Path, cfg: TrainConfig, data_hash: str) -> None:
    """Record the run's settings in OUT, or refuse when OUT already holds a run with other settings or data."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / RUN_CONFIG
    mine = {"config": cfg.model_dump(mode="json"), "data_hash": data_hash}
    if path.exists():
        theirs = json.loads(path.read_text(encoding="utf-8"))
        if theirs != mine:
            diff = [k for k in ("config", "data_hash") if theirs.get(k) != mine[k]]
            raise TrainError(f"{out} holds a run with a different {' and '.join(diff)}; "
                             "use another --out (or delete it) to start a new run")
        return
    path.write_text(json.dumps(mine, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def peak_memory_mb(device: str) -> dict[str, float]:
    """Peak resident memory of this process (and peak CUDA memory allocated when on a GPU)."""
    peak = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if device == "cuda":
        import torch

        peak["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return peak


def training_arguments(cfg: TrainConfig, out: Path, has_dev: bool, fresh: bool):
    from transformers import TrainingArguments

    t = cfg.train
    evaluate = has_dev and t.eval_steps > 0
    return TrainingArguments(
        output_dir=str(out / "checkpoints"), max_steps=t.max_steps, per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size, gradient_accumulation_steps=t.grad_accum, learning_rate=t.lr,
        warmup_steps=round(t.warmup_ratio * t.max_steps), weight_decay=t.weight_decay,
        lr_scheduler_type=t.scheduler, optim=t.optimizer, bf16=t.bf16, fp16=t.fp16,
        eval_strategy="steps" if evaluate else "no", eval_steps=t.eval_steps if evaluate else None,
        eval_on_start=has_dev and fresh, save_strategy="steps", save_steps=t.save_steps,
        save_total_limit=t.save_total_limit, logging_steps=t.logging_steps, seed=t.seed, data_seed=t.seed,
        report_to="none", use_cpu=t.device == "cpu", remove_unused_columns=False,
        label_names=["shift_labels"], prediction_loss_only=True, dataloader_num_workers=0,
        dataloader_pin_memory=t.device == "cuda", disable_tqdm=False)


@dataclass
class Run:
    """A run ready to start or continue: the trainer built, nothing trained yet (`execute` trains)."""

    cfg: TrainConfig
    data_dir: Path
    out: Path
    trainer: Any
    tokenizer: Any
    writer: Any
    data_hash: str
    prompt_version: str | None
    base_dir: Path
    resume: Path | None
    train_stats: PackStats
    dev_stats: PackStats
    started: float

    @property
    def adapter_dir(self) -> Path:
        return self.out / "adapter"

    def execute(self) -> dict:
        """Train to max_steps (from the last checkpoint if any), save the adapter, evaluate, write the run card."""
        result = self.trainer.train(resume_from_checkpoint=str(self.resume) if self.resume else None)
        self.trainer.save_model(str(self.adapter_dir))
        self.tokenizer.save_pretrained(str(self.adapter_dir))
        final_eval = self.trainer.evaluate() if self.trainer.eval_dataset else {}
        self.writer.close()
        card = self.card(result.metrics, final_eval)
        (self.adapter_dir / "run_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        return card

    def card(self, train_metrics: dict, final_eval: dict) -> dict:
        """What was trained on what, how it went, how long it took and how much memory it used."""
        history = self.trainer.state.log_history
        evals = [{"step": h["step"], "eval_loss": round(h["eval_loss"], 4)} for h in history if "eval_loss" in h]
        losses = [{"step": h["step"], "loss": round(h["loss"], 4)} for h in history if "loss" in h]
        return {
            "backbone": f"hf:{self.cfg.model.base}+adapter:{self.adapter_dir}",
            "base_model": self.cfg.model.base, "base_dir": str(self.base_dir), "data_dir": str(self.data_dir),
            "data_hash": self.data_hash, "prompt_version": self.prompt_version, "variant": self.cfg.data.variant,
            "config": self.cfg.model_dump(mode="json"),
            "train_data": asdict(self.train_stats), "dev_data": asdict(self.dev_stats),
            "steps": self.trainer.state.global_step, "resumed_from": str(self.resume) if self.resume else None,
            "metrics": {"train_loss_first": losses[0]["loss"] if losses else None,
                        "train_loss_last": losses[-1]["loss"] if losses else None,
                        "dev_loss_before": evals[0]["eval_loss"] if evals and evals[0]["step"] == 0 else None,
                        "dev_loss_after": round(final_eval["eval_loss"], 4) if "eval_loss" in final_eval else None,
                        "train_runtime_s": round(train_metrics.get("train_runtime", 0.0), 1),
                        "train_losses": losses, "dev_losses": evals},
            "seconds": round(time.time() - self.started, 1), **peak_memory_mb(self.cfg.train.device),
            "versions": _versions(),
        }


def build_run(cfg: TrainConfig, data_dir: Path, out: Path) -> Run:
    """Check the machine, read and pack the data, load the model and build the trainer (resuming if OUT has a run)."""
    import torch
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback

    from training.model import base_dir, load_for_training, load_tokenizer
    from training.trainer import AssistantOnlyTrainer, last_checkpoint

    started = time.time()
    check_environment(cfg)
    data = read_prepared(data_dir, cfg.data.variant)
    train_examples = stratified_sample(data.train, cfg.data.per_category, cfg.train.seed)
    dev_categories = max(1, len({(e.category, e.variant) for e in data.dev}))
    dev_per_category = math.ceil(cfg.data.max_dev / dev_categories) if cfg.data.max_dev else None
    dev_examples = stratified_sample(data.dev, dev_per_category, cfg.train.seed)
    if not train_examples:
        raise TrainError(f"{data_dir}: no {cfg.data.variant} train examples")
    out = Path(out)
    claim_out(out, cfg, data.data_hash)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    folder = base_dir(cfg)
    tokenizer = load_tokenizer(folder)
    train_rows, train_stats = rows_of(tokenizer, train_examples, cfg)
    dev_rows, dev_stats = rows_of(tokenizer, dev_examples, cfg)
    if not train_rows:
        raise TrainError(f"no train example fits data.max_seq_len={cfg.data.max_seq_len} with a target token")
    resume = last_checkpoint(out / "checkpoints")
    model = load_for_training(cfg, folder)
    writer = SummaryWriter(log_dir=str(out / "tb"))
    trainer = AssistantOnlyTrainer(
        model=model, args=training_arguments(cfg, out, bool(dev_rows), resume is None),
        train_dataset=train_rows, eval_dataset=dev_rows or None, data_collator=PackedCollator(tokenizer.pad_token_id),
        callbacks=[TensorBoardCallback(tb_writer=writer)], loss_chunk=cfg.train.loss_chunk,
        fused_ce=cfg.model.kernels == "liger")
    return Run(cfg=cfg, data_dir=Path(data_dir), out=out, trainer=trainer, tokenizer=tokenizer, writer=writer,
               data_hash=data.data_hash, prompt_version=data.manifest.get("prompt_version"), base_dir=folder,
               resume=resume, train_stats=train_stats, dev_stats=dev_stats, started=started)


def train(cfg: TrainConfig, data_dir: Path, out: Path) -> dict:
    """Run (or continue) one training run; returns the run card also written to OUT/adapter/run_card.json."""
    return build_run(cfg, data_dir, out).execute()


def _versions() -> dict[str, str]:
    import peft
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", required=True, help="cpu-smollm2 or gpu-qlora (training/presets/*.toml)")
    parser.add_argument("--config", type=Path, help="a TOML or JSON file layered over the preset")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. train.max_steps=20 (repeatable)")
    parser.add_argument("--data", type=Path, required=True, help="folder written by python -m training.prepare")
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, tb, adapter)")
    parser.add_argument("--check", action="store_true", help="validate the settings and data, load nothing else")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        cfg = load_train_config(args.preset, args.config, args.sets)
        if args.check:
            data = read_prepared(args.data, cfg.data.variant)
            print(f"config ok; {len(data.train)} train / {len(data.dev)} dev {cfg.data.variant} examples, "
                  f"data_hash {data.data_hash[:12]}")
            return 0
        card = train(cfg, args.data, args.out)
    except ConfigError as exc:
        print("error: bad training config:\n" + str(exc), file=sys.stderr)
        return 1
    except PolyBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    m = card["metrics"]
    print(f"adapter {args.out / 'adapter'}: {card['steps']} steps, train loss {m['train_loss_first']} -> "
          f"{m['train_loss_last']}, dev loss {m['dev_loss_before']} -> {m['dev_loss_after']}, "
          f"{card['seconds']} s, peak RSS {card['peak_rss_mb']} MB")
    print(f"backbone: {card['backbone']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
