"""Answer comparison shared by the task generator (composition checks) and the scorers."""

from __future__ import annotations

import math

from agents.schema import Answer


def numbers_match(gold: Answer, value: float) -> bool:
    """A number is right when it is within the gold's absolute or log10 tolerance (exact when none)."""
    assert gold.number is not None
    if gold.log_tolerance is not None:
        if value <= 0 or gold.number <= 0:
            return False
        return abs(math.log10(value) - math.log10(gold.number)) <= gold.log_tolerance + 1e-12
    tolerance = gold.tolerance if gold.tolerance is not None else 1e-9 * max(1.0, abs(gold.number))
    return abs(value - gold.number) <= tolerance + 1e-12


def answers_match(gold: Answer, other: Answer) -> bool:
    """Whether `other` is a correct answer for `gold` (polymer answers need a tool check instead)."""
    if gold.type != other.type:
        return False
    if gold.type == "choice":
        return (other.choice or "").strip().upper() == (gold.choice or "").strip().upper()
    if gold.type == "number":
        return other.number is not None and numbers_match(gold, other.number)
    if gold.type == "ranking":
        return list(other.ranking or []) == list(gold.ranking or [])
    if gold.type == "set":
        return set(other.items or []) == set(gold.items or [])
    if gold.type == "yes_no":
        return other.yes == gold.yes
    return other.polymer == gold.polymer


def kendall_tau(gold: list[str], predicted: list[str]) -> float:
    """Kendall's tau between two orderings of the same labels (-1..1); labels missing count as discordant."""
    position = {label: i for i, label in enumerate(predicted)}
    pairs = concordant = 0
    for i in range(len(gold)):
        for j in range(i + 1, len(gold)):
            pairs += 1
            a, b = position.get(gold[i]), position.get(gold[j])
            concordant += 1 if a is not None and b is not None and a < b else -1
    return concordant / pairs if pairs else 1.0
