"""Fine-tuning small LMs on distilled traces: prepare -> train -> merge.

    python -m training.prepare --traces .polybench/distill --out .polybench/sft
    python -m training.train --preset cpu-smollm2 --data .polybench/sft --out .polybench/runs/smollm2-cot
    python -m eval.run --model hf:smollm2+adapter:.polybench/runs/smollm2-cot/adapter ...
    python -m training.merge --adapter .polybench/runs/smollm2-cot/adapter --out .polybench/models/smollm2-cot

Modules: examples (distill record -> chat example, three variants), prepare (versioned files + manifest),
tokens (assistant-only labels), packing (rows without padding), config (+ presets/*.toml), model (quantisation,
LoRA, loading), trainer (target-only loss, checkpoints), train (the CLI, run card), merge (adapter -> model folder).
"""
