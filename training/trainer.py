"""The trainer: transformers' Trainer with an assistant-only loss that computes logits only where there are targets.

Stock SFT trainers run the LM head over every position (prompt, tool observation and padding included) and
then throw most of those logits away; TRL also computes full-vocabulary entropy and accuracy for its logs.
Here the decoder's hidden states are gathered at target positions first, and the head plus cross-entropy
run on those alone, in chunks (checkpointed when there are several, so a 150k vocabulary never needs all
logits at once; Liger's fused linear cross-entropy on CUDA when model.kernels = liger). The loss is summed
and divided by the target tokens of the whole accumulated batch (Trainer's num_items_in_batch).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint
from transformers import Trainer

from training.tokens import IGNORE


def _parts(model):
    """The decoder stack and the LM head of a (peft-wrapped) causal LM."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.get_decoder(), base.get_output_embeddings()


def _ce_sum(head, hidden, targets):
    return F.cross_entropy(head(hidden).float(), targets, reduction="sum")


def assistant_loss_sum(model, inputs: dict, *, chunk: int = 4096, fused_ce=None) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over target tokens, and their number (logits are never built for the rest)."""
    decoder, head = _parts(model)
    hidden = decoder(input_ids=inputs["input_ids"], position_ids=inputs["position_ids"],
                     use_cache=False).last_hidden_state
    labels = inputs["shift_labels"]
    keep = labels != IGNORE
    h, y = hidden[keep], labels[keep]
    n = int(y.numel())
    if n == 0:
        return hidden.sum() * 0.0, 0
    if fused_ce is not None:
        return fused_ce(head.weight, h, y), n
    if n <= chunk:
        return _ce_sum(head, h, y), n
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, n, chunk):
        hc, yc = h[start:start + chunk], y[start:start + chunk]
        total = total + (checkpoint(_ce_sum, head, hc, yc, use_reentrant=False) if torch.is_grad_enabled()
                         else _ce_sum(head, hc, yc))
    return total, n


class AssistantOnlyTrainer(Trainer):
    """Trainer whose loss is `assistant_loss_sum` normalised by the batch's target tokens."""

    def __init__(self, *args, loss_chunk: int = 4096, fused_ce: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_chunk = loss_chunk
        self.fused_ce = None
        if fused_ce:
            from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

            self.fused_ce = LigerFusedLinearCrossEntropyLoss(reduction="sum")
        self.model_accepts_loss_kwargs = True   # the loss is already normalised over the accumulated batch

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        total, n = assistant_loss_sum(model, inputs, chunk=self.loss_chunk, fused_ce=self.fused_ce)
        denom = num_items_in_batch if num_items_in_batch is not None else max(n, 1)
        if isinstance(denom, torch.Tensor):
            denom = denom.to(total.device)
        loss = total / denom
        return (loss, {}) if return_outputs else loss


def complete_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint folders whose trainer state (written last by Trainer) is whole, oldest first."""
    found = []
    for path in Path(folder).glob("checkpoint-*"):
        state = path / "trainer_state.json"
        try:
            json.loads(state.read_text(encoding="utf-8"))
            step = int(path.name.split("-")[1])
        except (OSError, ValueError):
            continue
        found.append((step, path))
    return [p for _, p in sorted(found)]


def last_checkpoint(folder: Path) -> Path | None:
    """The newest whole checkpoint; torn ones (a run killed while saving) are removed so Trainer never sees them."""
    folder = Path(folder)
    if not folder.exists():
        return None
    whole = complete_checkpoints(folder)
    for path in folder.glob("checkpoint-*"):
        if path not in whole:
            shutil.rmtree(path, ignore_errors=True)
    return whole[-1] if whole else None
