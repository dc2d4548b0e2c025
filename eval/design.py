"""Judging a design answer (a proposed polymer under constraints) against the whole KB.

A proposal is first a valid linear repeat unit (kb.repeat_unit). Structural constraints (groups, class)
are checked with RDKit through agents.taskgen's check_design_answer, one constraint at a time. A property
constraint is checked against the KB's measured medians over ALL splits when the polymer has one of that
property ("measured"); else against the surrogate estimate of tools.estimate and its 80 % interval
("estimated"). Only a proposal whose every constraint is met on measured values is `verified` (solved);
one that needs estimates is reported apart as `estimated_ok` and never counted as verified. Novelty:
the canonical key is not a KB polymer. Uniqueness is a property of a set of answers (eval.metrics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from agents.schema import Constraint, Task
from agents.taskgen.templates.design import check_design_answer
from kb.errors import InvalidPolymerError, PolyBenchError, UnitError, UnknownPropertyError
from kb.properties import get_property
from kb.repeat_unit import to_repeat_unit
from kb.units import convert
from tools.kb_view import KBView

Basis = Literal["rdkit", "measured", "estimated", "none"]


class ConstraintCheck(BaseModel):
    """One constraint on one proposal: met or not (None: could not be judged), and on what basis."""

    model_config = ConfigDict(extra="forbid")

    constraint: str
    met: bool | None
    basis: Basis
    value: float | None = None
    lower: float | None = None                # estimated: the 80 % interval
    upper: float | None = None
    note: str | None = None


class DesignVerdict(BaseModel):
    """The judgement of one design answer."""

    model_config = ConfigDict(extra="forbid")

    polymer: str | None                       # canonical key (None when invalid)
    valid: bool
    checks: list[ConstraintCheck] = []
    verified: bool = False                    # every constraint met, properties on measured values
    estimated_ok: bool = False                # every constraint met, some property only by estimate
    novel: bool | None = None                 # not a KB polymer (None when invalid)
    note: str | None = None

    @property
    def constraint_missed(self) -> bool:
        return self.valid and any(c.met is False for c in self.checks)


class DesignJudge:
    """Checks design answers against one KB (all splits visible); open once, reuse for every answer."""

    def __init__(self, kb_dir: Path, *, estimates: bool = True) -> None:
        self.view = KBView(Path(kb_dir))
        self._con = self.view.connect()
        self._estimates = estimates
        self._estimate_ctx: Any = None       # tools.estimate.EstimateContext, opened on first use

    def close(self) -> None:
        self._con.close()
        if self._estimate_ctx is not None:
            self._estimate_ctx.close()

    def judge(self, task: Task, text: str) -> DesignVerdict:
        """The verdict on proposing `text` for a design task."""
        try:
            unit = to_repeat_unit(text)
        except InvalidPolymerError as exc:
            return DesignVerdict(polymer=None, valid=False, note=f"invalid repeat unit: {exc.reason}")
        if unit.status != "linear":
            return DesignVerdict(polymer=None, valid=False, note=f"not a linear repeat unit ({unit.status})")
        key = unit.key
        row = self._con.execute("SELECT polymer_id FROM polymers WHERE key = ?", [key]).fetchall()
        pid = int(row[0][0]) if row else None
        checks = [self._property(c, key, pid) if c.type == "property_range" else self._structural(task, c, key)
                  for c in task.constraints]
        all_met = all(c.met for c in checks)
        verified = all_met and all(c.basis != "estimated" for c in checks)
        missed = [c.constraint for c in checks if not c.met]
        return DesignVerdict(polymer=key, valid=True, checks=checks, verified=verified,
                             estimated_ok=all_met and not verified, novel=pid is None,
                             note="; ".join(f"not met or not judged: {m}" for m in missed) or None)

    def _structural(self, task: Task, c: Constraint, key: str) -> ConstraintCheck:
        ok, reasons = check_design_answer(self.view, task.model_copy(update={"constraints": [c]}), key)
        return ConstraintCheck(constraint=c.describe(), met=ok, basis="rdkit", note="; ".join(reasons) or None)

    def _property(self, c: Constraint, key: str, pid: int | None) -> ConstraintCheck:
        try:
            prop = get_property(c.property or "")
            low, high = (convert(b, c.unit, prop.unit) if b is not None and c.unit else b for b in (c.min, c.max))
        except (UnknownPropertyError, UnitError) as exc:
            return ConstraintCheck(constraint=c.describe(), met=None, basis="none", note=f"bad constraint: {exc}")

        def inside(v: float) -> bool:
            return (low is None or v >= low) and (high is None or v <= high)

        rows = [] if pid is None else self._con.execute(
            "SELECT kind, value FROM property_summary WHERE polymer_id = ? AND property = ? ORDER BY kind",
            [pid, prop.name]).fetchall()
        measured = [float(v) for k, v in rows if c.kind in (None, k)]
        if measured:
            hit = next((v for v in measured if inside(v)), measured[0])
            return ConstraintCheck(constraint=c.describe(), met=inside(hit), basis="measured", value=hit)
        return self._estimated(c, key, prop.name, prop.unit, inside)

    def _estimated(self, c: Constraint, key: str, prop: str, unit: str, inside) -> ConstraintCheck:
        """The surrogate's estimate (canonical unit): met when the estimate is inside, with its interval."""
        if not self._estimates:
            return ConstraintCheck(constraint=c.describe(), met=None, basis="none", note="no measured value")
        from tools.estimate import EstimateArgs, EstimateContext, estimate_property

        try:
            if self._estimate_ctx is None:
                self._estimate_ctx = EstimateContext(self.view)
            est = estimate_property(EstimateArgs(polymer=key, property=prop, kind=c.kind, unit=unit),
                                    self._estimate_ctx)
        except (PolyBenchError, OSError, ValueError) as exc:  # no models for this KB, or none for the property
            return ConstraintCheck(constraint=c.describe(), met=None, basis="none",
                                   note=f"no measured value and no estimate ({str(exc).splitlines()[0][:160]})")
        return ConstraintCheck(constraint=c.describe(), met=inside(est.value), basis="estimated", value=est.value,
                               lower=est.lower, upper=est.upper,
                               note=f"estimate {est.value:.4g} [{est.lower:.4g}, {est.upper:.4g}] {unit}")
