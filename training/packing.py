"""Rows for training: examples packed best-fit-decreasing into rows of at most max_seq_len tokens, no padding.

Each row keeps its examples apart through position_ids that restart at 0 for every example: transformers'
causal mask turns restarts into a block-diagonal mask when no attention_mask is given (training.config lists
the model types that do this). Labels are shifted per example before packing (`shift_labels[i]` is the
target of position i), so no example is ever trained to predict the first token of the next one.
The collator pads the rows of one batch to the longest with a masked segment of its own.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from training.tokens import IGNORE, TokenizedChat


@dataclass(frozen=True)
class PackStats:
    examples: int
    rows: int
    dropped_too_long: int
    dropped_no_target: int
    tokens: int
    target_tokens: int


def shifted(chat: TokenizedChat) -> list[int]:
    """Labels shifted left by one within the example: position i is trained to predict token i + 1."""
    return chat.labels[1:] + [IGNORE]


def _row(chats: list[TokenizedChat]) -> dict[str, list[int]]:
    row: dict[str, list[int]] = {"input_ids": [], "shift_labels": [], "position_ids": []}
    for chat in chats:
        row["input_ids"] += chat.input_ids
        row["shift_labels"] += shifted(chat)
        row["position_ids"] += list(range(len(chat.input_ids)))
    return row


def pack_rows(chats: list[TokenizedChat], max_len: int, packing: bool) -> tuple[list[dict[str, list[int]]], PackStats]:
    """Rows of one or more examples (best-fit decreasing when packing); over-long and target-less ones dropped."""
    usable = [c for c in chats if len(c.input_ids) <= max_len and any(x != IGNORE for x in shifted(c))]
    too_long = sum(1 for c in chats if len(c.input_ids) > max_len)
    bins: list[list[TokenizedChat]]
    if not packing:
        bins = [[c] for c in usable]
    else:
        order = sorted(range(len(usable)), key=lambda i: (-len(usable[i].input_ids), i))
        bins = []
        free: list[tuple[int, int]] = []      # (space left, bin index), sorted: best fit = first with enough room
        for i in order:
            size = len(usable[i].input_ids)
            at = bisect.bisect_left(free, (size, -1))
            if at < len(free):
                space, b = free.pop(at)
                bins[b].append(usable[i])
                bisect.insort(free, (space - size, b))
            else:
                bins.append([usable[i]])
                bisect.insort(free, (max_len - size, len(bins) - 1))
    rows = [_row(b) for b in bins]
    stats = PackStats(examples=len(usable), rows=len(rows), dropped_too_long=too_long,
                      dropped_no_target=len(chats) - len(usable) - too_long,
                      tokens=sum(len(r["input_ids"]) for r in rows),
                      target_tokens=sum(sum(1 for x in r["shift_labels"] if x != IGNORE) for r in rows))
    return rows, stats


class PackedCollator:
    """Stack rows into tensors, padding each to the batch's longest with a masked segment of its own."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids, labels, positions = [], [], []
        for r in rows:
            pad = width - len(r["input_ids"])
            ids.append(r["input_ids"] + [self.pad_id] * pad)
            labels.append(r["shift_labels"] + [IGNORE] * pad)
            positions.append(r["position_ids"] + list(range(pad)))
        return {"input_ids": torch.tensor(ids), "shift_labels": torch.tensor(labels),
                "position_ids": torch.tensor(positions)}
