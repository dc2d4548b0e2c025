"""Fold a LoRA adapter into its base model and write a plain model folder (servable by `transformers serve`).

    python -m training.merge --adapter .polybench/runs/smollm2-cot/adapter --out .polybench/models/smollm2-cot
    HF_HUB_OFFLINE=1 transformers serve .polybench/models/smollm2-cot --device cpu --dtype float32

The base is the one the adapter names (adapter_config.json), or --base. The folder is staged and swapped in
whole, with the adapter's tokenizer and chat template and a merge_card.json naming base, adapter and run card.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from kb.errors import PolyBenchError

DTYPES = ("float32", "bfloat16", "float16")


class MergeError(PolyBenchError, ValueError):
    """An adapter folder that cannot be merged (missing files, unknown base)."""


def adapter_base(adapter: Path) -> Path:
    """The base model folder an adapter was trained on, from its adapter_config.json."""
    config = Path(adapter) / "adapter_config.json"
    if not config.exists():
        raise MergeError(f"{adapter} has no adapter_config.json (not a LoRA adapter folder)")
    base = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base or not (Path(base) / "config.json").exists():
        raise MergeError(f"{adapter}: its base model {base!r} is not a local model folder; pass --base")
    return Path(base)


def merge(adapter: Path, out: Path, base: Path | None = None, dtype: str = "float32") -> Path:
    """Write base + adapter as one model folder at `out`; returns it."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter, out = Path(adapter), Path(out)
    base = Path(base) if base else adapter_base(adapter)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=getattr(torch, dtype))
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    stage = out.with_name(f".{out.name}.staging")
    shutil.rmtree(stage, ignore_errors=True)
    merged.save_pretrained(stage)
    tokenizer_dir = adapter if (adapter / "tokenizer_config.json").exists() else base
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(stage)
    card = {"base": str(base), "adapter": str(adapter), "dtype": dtype}
    if (adapter / "run_card.json").exists():
        card["run_card"] = json.loads((adapter / "run_card.json").read_text(encoding="utf-8"))
    (stage / "merge_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    stage.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.merge", description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, required=True, help="adapter folder (OUT/adapter of a run)")
    parser.add_argument("--out", type=Path, required=True, help="merged model folder to write")
    parser.add_argument("--base", type=Path, help="base model folder (default: the one the adapter names)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32")
    args = parser.parse_args(argv)
    try:
        out = merge(args.adapter, args.out, args.base, args.dtype)
    except PolyBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}; serve it with: transformers serve {out}  (or use the backbone hf:{out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
