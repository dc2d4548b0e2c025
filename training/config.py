"""The training settings: typed sections, presets as TOML files, and the contradictions refused up front.

`load_train_config(preset, file, sets)` layers preset < file < `--set key=value` flags (kb.layered_config) and
then `check_config` refuses settings that cannot work together, one `field: reason` line each, before any
model or data is loaded. `check_environment` does the same for settings this machine cannot run (4-bit
without CUDA, ...), so a config can be validated anywhere and refused only where it would fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kb.layered_config import ConfigError, layered_config
from training.examples import VARIANTS

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
# Decoders whose attention builds its mask from position_ids when several sequences share one row
# (transformers' create_causal_mask), so packed examples cannot attend to each other.
PACKING_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "gemma",
                                 "gemma2", "gemma3_text", "phi3", "olmo2", "granite", "smollm3"})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSettings(_Section):
    """Which base model and how it is held in memory."""

    base: str = "smollm2"                     # 'smollm2' (the offline SmolLM2-135M-Instruct) or a model folder
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    kernels: Literal["none", "liger"] = "none"  # liger: fused RMSNorm / SwiGLU / RoPE Triton kernels (CUDA)


class QuantSettings(_Section):
    """bitsandbytes quantisation of the frozen base weights (QLoRA)."""

    load_in_4bit: bool = False
    load_in_8bit: bool = False
    quant_type: Literal["nf4", "fp4"] = "nf4"
    double_quant: bool = False
    compute_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"


class LoraSettings(_Section):
    """The LoRA adapter that is trained."""

    r: int = Field(default=8, ge=1, le=1024)
    alpha: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class DataSettings(_Section):
    """What is read from the prepared data folder and how it is batched."""

    variant: str = "cot"                      # cot, direct, tools, or a mix such as cot+direct (both files, one run)
    max_seq_len: int = Field(default=512, ge=16)
    packing: bool = True                      # several examples per row, no padding between them
    per_category: int | None = Field(default=None, ge=1)   # stratified sample: at most this many per category
    max_dev: int | None = Field(default=None, ge=1)        # at most this many dev examples (stratified the same way)

    @field_validator("variant")
    @classmethod
    def _known_variants(cls, value: str) -> str:
        parts = value.split("+")
        if any(p not in VARIANTS for p in parts) or len(set(parts)) != len(parts):
            raise ValueError(f"{value!r}: use one of {', '.join(VARIANTS)} or a mix of them joined by '+', "
                             "e.g. cot+direct")
        return value

    @property
    def variants(self) -> tuple[str, ...]:
        """The prepared variants this run reads (one, or several for a mixed run)."""
        return tuple(self.variant.split("+"))


class TrainSettings(_Section):
    """Optimisation, evaluation, checkpoints and logging."""

    max_steps: int = Field(default=100, ge=1)
    batch_size: int = Field(default=4, ge=1)          # rows per step (packed rows when data.packing)
    grad_accum: int = Field(default=1, ge=1)
    lr: float = Field(default=2e-4, gt=0.0)
    warmup_ratio: float = Field(default=0.05, ge=0.0, lt=1.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    optimizer: Literal["adamw_torch", "adamw_torch_fused", "paged_adamw_8bit", "paged_adamw_32bit"] = "adamw_torch"
    gradient_checkpointing: bool = False
    bf16: bool = False                        # mixed precision autocast
    fp16: bool = False
    eval_steps: int = Field(default=0, ge=0)          # 0: no evaluation during training (one at the end if dev exists)
    save_steps: int = Field(default=50, ge=1)
    save_total_limit: int = Field(default=2, ge=1)
    logging_steps: int = Field(default=5, ge=1)
    seed: int = 0
    threads: int | None = Field(default=None, ge=1)   # torch threads (CPU); None leaves torch's default
    device: Literal["cpu", "cuda"] = "cpu"
    loss_chunk: int = Field(default=4096, ge=64)      # assistant tokens per cross-entropy chunk (bounds logits memory)


class TrainConfig(_Section):
    """All settings of one training run."""

    model: ModelSettings = Field(default_factory=ModelSettings)
    quant: QuantSettings = Field(default_factory=QuantSettings)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)


def preset_path(name: str) -> Path:
    """The TOML file of a named preset; ConfigError listing the known ones otherwise."""
    path = PRESETS_DIR / f"{name}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PRESETS_DIR.glob("*.toml")))
        raise ConfigError(f"preset: unknown preset {name!r} (known: {known})")
    return path


def parse_sets(sets: list[str]) -> dict[str, Any]:
    """`section.key=value` flags as a nested mapping; values are read as JSON when they parse, else as text."""
    out: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: write section.key=value, e.g. train.max_steps=20")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {part} is set both as a value and as a section")
        node[parts[-1]] = value
    return out


def base_model_type(cfg: TrainConfig) -> str | None:
    """The model_type in the base model's config.json, read without loading the model (None when unknown)."""
    if cfg.model.base == "smollm2":
        return "llama"
    path = Path(cfg.model.base) / "config.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("model_type")


def check_config(cfg: TrainConfig) -> None:
    """ConfigError with one `field: reason` line per contradiction; nothing is loaded."""
    problems = []
    q = cfg.quant
    if q.load_in_4bit and q.load_in_8bit:
        problems.append("quant.load_in_8bit: 4-bit and 8-bit quantisation cannot both be on (pick one)")
    if q.double_quant and not q.load_in_4bit:
        problems.append("quant.double_quant: double quantisation applies to 4-bit weights only (quant.load_in_4bit)")
    if cfg.train.bf16 and cfg.train.fp16:
        problems.append("train.fp16: bf16 and fp16 mixed precision cannot both be on")
    if cfg.train.optimizer.startswith("paged_") and cfg.train.device != "cuda":
        problems.append(f"train.optimizer: {cfg.train.optimizer} pages optimizer state through CUDA memory; "
                        "use adamw_torch on CPU")
    if cfg.train.optimizer == "adamw_torch_fused" and cfg.train.device != "cuda":
        problems.append("train.optimizer: adamw_torch_fused needs train.device = cuda")
    if cfg.model.kernels == "liger" and cfg.train.device != "cuda":
        problems.append("model.kernels: liger kernels run on CUDA (Triton); use 'none' on CPU")
    if cfg.model.attn_implementation == "flash_attention_2" and cfg.train.device != "cuda":
        problems.append("model.attn_implementation: flash_attention_2 needs CUDA")
    if (q.load_in_4bit or q.load_in_8bit) and cfg.train.device != "cuda":
        problems.append("quant: bitsandbytes quantised training needs train.device = cuda")
    model_type = base_model_type(cfg)
    if model_type is None:
        problems.append(f"model.base: {cfg.model.base} is not a model folder (no config.json with a model_type)")
    elif cfg.data.packing and model_type not in PACKING_MODEL_TYPES:
        problems.append(f"data.packing: model type {model_type!r} does not keep packed sequences apart "
                        "(its attention ignores position_ids); set data.packing=false")
    if cfg.lora.target_modules != "all-linear" and not cfg.lora.target_modules:
        problems.append("lora.target_modules: empty list; name modules or use 'all-linear'")
    if problems:
        raise ConfigError("\n".join(problems))


def check_environment(cfg: TrainConfig) -> None:
    """ConfigError when this machine cannot run the config (CUDA asked for but absent, bitsandbytes missing)."""
    import importlib.util

    import torch

    problems = []
    if cfg.train.device == "cuda" and not torch.cuda.is_available():
        problems.append("train.device: cuda asked for, but no CUDA device is available here")
    if (cfg.quant.load_in_4bit or cfg.quant.load_in_8bit) and importlib.util.find_spec("bitsandbytes") is None:
        problems.append("quant: bitsandbytes is not installed (pip install '.[gpu]')")
    if cfg.model.kernels == "liger" and importlib.util.find_spec("liger_kernel") is None:
        problems.append("model.kernels: liger-kernel is not installed")
    if problems:
        raise ConfigError("\n".join(problems))


def load_train_config(preset: str | None, file: Path | None = None, sets: list[str] | None = None) -> TrainConfig:
    """The checked config of preset < file < flags; ConfigError (one line per field) otherwise."""
    cfg = layered_config(TrainConfig, preset=preset_path(preset) if preset else None, file=file,
                         flags=parse_sets(sets or []))
    check_config(cfg)
    return cfg
