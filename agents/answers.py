"""Answer comparison shared by the task generator (composition checks), the solver's verifier and the scorers.

One rule everywhere: numbers are compared in the gold's unit after converting the unit written, rankings
by their highest-first order (so `B < A < C` == `C > A > B`), sets and choices case-insensitively, and
polymers by canonical repeat-unit key, never as raw strings.
"""

from __future__ import annotations

import math
from functools import lru_cache

from agents.schema import Answer
from kb.errors import InvalidPolymerError, UnitError
from kb.repeat_unit import to_repeat_unit
from kb.units import convert


def numbers_match(gold: Answer, value: float, unit: str | None = None) -> bool:
    """A number (in `unit`, the gold's unit when None) is right when within the gold's absolute or log10
    tolerance (exact when none); a unit that does not convert to the gold's is wrong, not an error."""
    assert gold.number is not None
    if not math.isfinite(value):
        return False
    if unit and gold.unit and unit != gold.unit:
        try:
            value = convert(value, unit, gold.unit)
        except UnitError:
            return False
    if gold.log_tolerance is not None:
        if value <= 0 or gold.number <= 0:
            return False
        return abs(math.log10(value) - math.log10(gold.number)) <= gold.log_tolerance + 1e-12
    tolerance = gold.tolerance if gold.tolerance is not None else 1e-9 * max(1.0, abs(gold.number))
    return abs(value - gold.number) <= tolerance + 1e-12


@lru_cache(maxsize=4096)
def polymer_key(text: str) -> str | None:
    """The canonical repeat-unit key of a polymer string, or None when it is not a valid polymer."""
    try:
        return to_repeat_unit(text).key
    except InvalidPolymerError:
        return None


def same_polymer(a: str | None, b: str | None) -> bool:
    """Whether two polymer strings are the same repeat unit (any writing, frame or doubling)."""
    if not a or not b:
        return False
    key_a = polymer_key(a)
    return key_a is not None and key_a == polymer_key(b)


def _norm(item: str) -> str:
    return " ".join(str(item).split()).casefold()


def answers_match(gold: Answer, other: Answer) -> bool:
    """Whether `other` equals `gold` (a design answer is one of many: those need the tool checks instead)."""
    if gold.type != other.type:
        return False
    if gold.type == "choice":
        return (other.choice or "").strip().upper() == (gold.choice or "").strip().upper()
    if gold.type == "number":
        return other.number is not None and numbers_match(gold, other.number, other.unit)
    if gold.type == "ranking":
        return [_norm(x) for x in other.highest_first()] == [_norm(x) for x in gold.highest_first()]
    if gold.type == "set":
        return {_norm(x) for x in other.items or []} == {_norm(x) for x in gold.items or []}
    if gold.type == "yes_no":
        return other.yes == gold.yes
    return same_polymer(gold.polymer, other.polymer)


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
