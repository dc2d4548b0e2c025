"""Verification of a teacher trace before it becomes training data.

A trace is kept when (1) its final answer is right: it matches the gold (agents.answers.answers_match), or,
for an open design answer, passes every tool check (agents.taskgen.templates.design.check_design_answer
through the task's view); and (2) every number its reasoning states (thoughts and conclusions) exists in
the task's question, a tool output of the trace, or a knowledge profile, or follows from those by one
arithmetic step or a unit conversion (a conversion, a ratio, a product of two stated numbers); and every
repeat unit it names (a token with '*') is shown by the question or a tool output. Anything else is
rejected with the reason, e.g. "fabricated number: 987.6" or "fabricated polymer: *CC(*)F".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import product

from agents.answers import answers_match
from agents.schema import Outcome, Task, Trace
from kb.properties import PROPERTIES, get_property
from kb.units import UnitError, convert

# numbers written as words of their own: not part of an identifier (CO2, perm_co2, P1, c1ccccc1, cm3)
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")
RELATIVE = 1.5e-3        # 4 significant digits, rounded twice
CONSTANTS = (1000.0, 1e6, 1e-6, 1e10, 1e-10, 100.0, 0.5, 2.0, 3.0, 6.0)
SMALL = 10               # integers up to this are counts and labels (requirement (2), 3 rings): not checked

DesignCheck = Callable[[Task, str], tuple[bool, list[str]]]


@dataclass(frozen=True)
class Verdict:
    """Whether a trace is kept, why not, and the outcome it scores."""

    kept: bool
    reason: str | None
    outcome: Outcome


def numbers_in(text: str) -> list[float]:
    """The numbers written in a text (see NUMBER)."""
    out = []
    for m in NUMBER.finditer(text or ""):
        try:
            x = float(m.group())
        except ValueError:
            continue
        if math.isfinite(x):
            out.append(x)
    return out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= RELATIVE * max(abs(a), abs(b)) or abs(a - b) <= 1e-12


class _Known:
    """Allowed numbers, with a lazily built set of one-step derivations."""

    def __init__(self, base: Iterable[float], units: set[str]) -> None:
        self.base = sorted({float(f"{x:.6g}") for x in base if math.isfinite(x)})
        self.stated: list[float] = []  # numbers already stated and allowed: seeds of later derivations
        self.units = units
        self._derived: list[float] | None = None

    def state(self, x: float) -> bool:
        """Whether x is allowed; an allowed x seeds the derivations of the numbers stated after it."""
        if not self.allows(x):
            return False
        if not _member(sorted(self.stated), x):
            self.stated.append(x)
            self._derived = None
        return True

    def has_base(self, x: float) -> bool:
        return _member(self.base, x)

    def derived(self) -> list[float]:
        if self._derived is None:
            seeds = sorted({float(f"{x:.6g}") for x in [*self.stated, *CONSTANTS]})
            unary = set(seeds)
            for a in seeds:
                unary |= {-a, a * a}
                if a:
                    unary.add(1.0 / a)
                if a > 0:
                    unary.add(math.sqrt(a))
                for u, v in product(self.units, repeat=2):
                    if u != v:
                        try:
                            unary.add(convert(a, u, v))
                        except (UnitError, ValueError, ZeroDivisionError, OverflowError):
                            pass
            found = set(unary)
            for a, b in product(sorted(unary), seeds):  # one binary step between a (derived) and a seed
                found |= {a + b, a - b, b - a, a * b}
                if b:
                    found.add(a / b)
                if a:
                    found.add(b / a)
            self._derived = sorted(x for x in found if math.isfinite(x))
        return self._derived

    def allows(self, x: float) -> bool:
        if x.is_integer() and abs(x) <= SMALL:
            return True
        return self.has_base(x) or _member(self.derived(), x)


def _member(sorted_values: list[float], x: float) -> bool:
    import bisect

    lo = bisect.bisect_left(sorted_values, x - RELATIVE * abs(x) - 1e-12)
    return lo < len(sorted_values) and _close(sorted_values[lo], x) or (
        lo + 1 < len(sorted_values) and _close(sorted_values[lo + 1], x))


def task_numbers(task: Task) -> list[float]:
    """Numbers the question shows: its text, options, constraints and drawn parameters (never the gold)."""
    found = numbers_in(task.question) + [x for o in task.options or [] for x in numbers_in(o)]
    for c in task.constraints:
        found += [b for b in (c.min, c.max) if b is not None]
    p = task.params
    found += [q.value for q in p.quoted_values] + ([p.threshold] if p.threshold is not None else [])
    found += [x for s in task.sub_questions for x in numbers_in(s.question)]
    return found


def task_units(task: Task) -> set[str]:
    """Units a conversion in the reasoning may go between: the task's and its properties' canonical ones."""
    units = {u for u in [task.params.unit, *(q.unit for q in task.params.quoted_values),
                         *(c.unit for c in task.constraints)] if u}
    for prop in [task.params.property, *(c.property for c in task.constraints)]:
        if prop in PROPERTIES:
            units.add(get_property(prop).unit)
    return units


def fabricated_numbers(task: Task, trace: Trace, profile_numbers: Iterable[float] = ()) -> list[float]:
    """The numbers the trace's reasoning states that no allowed source gives."""
    observed = [x for s in trace.steps for x in numbers_in(s.observation or "")]
    stated = [x for s in trace.steps for text in (s.thought, s.conclusion or "") for x in numbers_in(text)]
    known = _Known([*task_numbers(task), *observed, *profile_numbers], task_units(task))
    return [x for x in stated if not known.state(x)]


_POLYMER = re.compile(r"[^\s,;:'\"`]*\*[^\s,;:'\"`]*")  # a repeat unit as written: any token with a '*'


def fabricated_polymers(task: Task, trace: Trace) -> list[str]:
    """Repeat units the reasoning names that neither the question nor a tool output shows."""
    shown = " ".join([task.question, *(task.options or []), *(r.psmiles for r in task.params.polymers),
                      *(s.observation or "" for s in trace.steps)])
    named = {m.group().rstrip(".)").lstrip("(") for s in trace.steps for text in (s.thought, s.conclusion or "")
             for m in _POLYMER.finditer(text)}
    return sorted(p for p in named if p.count("*") >= 1 and len(p) > 2 and p not in shown)


def verify_trace(task: Task, trace: Trace, *, design_check: DesignCheck | None = None,
                 profile_numbers: Iterable[float] = ()) -> Verdict:
    """Keep or reject a teacher trace (see the module docstring); the outcome is solved / wrong / ... ."""
    if trace.final_answer is None:
        outcome = trace.outcome if trace.outcome in ("budget", "tool_error", "refused") else "unparseable"
        return Verdict(False, f"no answer ({trace.verification_note or outcome})", outcome)
    answer = trace.final_answer
    if task.template == "design_polymer" and answer.type == "polymer":
        if design_check is None:
            return Verdict(False, "design answer without a tool check", "wrong")
        ok, reasons = design_check(task, answer.polymer or "")
        if not ok:
            return Verdict(False, "design check failed: " + "; ".join(reasons), "wrong")
    elif task.gold is None or not answers_match(task.gold, answer):
        return Verdict(False, "wrong answer", "wrong")
    bad = fabricated_numbers(task, trace, profile_numbers)
    if bad:
        return Verdict(False, "fabricated number: " + ", ".join(f"{x:g}" for x in bad[:5]), "solved")
    unknown = fabricated_polymers(task, trace)
    if unknown:
        return Verdict(False, "fabricated polymer: " + ", ".join(unknown[:3]), "solved")
    return Verdict(True, None, "solved")
