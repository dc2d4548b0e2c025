"""From predictions to numbers: accuracy with bootstrap 95 % intervals per cell, category, template, difficulty
and skill; number / ranking / set / design metrics; the compositionality gap; CoT gain; tools vs standalone.

Accuracies count every main prediction (unparseable and refused ones are wrong, never dropped). Skills are
scored on sub-question predictions. The compositionality gap of a group is, among its tasks whose asked
sub-questions are all right, the share whose main answer is wrong. Gains compare two cells on the tasks
both answered (CoT on - off; tools - standalone).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np

from agents.solver.backbones import ADAPTER_MARK
from eval.produce import NO_ANSWER_LINE
from eval.records import ERROR_CLASSES, Cell, Prediction

BOOTSTRAP = 1000


def bootstrap_ci(values: list[float], n: int = BOOTSTRAP, seed: int = 0) -> list[float] | None:
    """Percentile bootstrap 95 % interval of a mean (None for no values); the same seed, the same interval."""
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    means = np.random.default_rng(seed).choice(data, size=(n, len(data))).mean(axis=1)
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]


def accuracy(preds: Iterable[Prediction]) -> dict:
    """n, accuracy and its 95 % interval."""
    hits = [float(p.score.correct) for p in preds]
    return {"n": len(hits), "accuracy": round(sum(hits) / len(hits), 4) if hits else None,
            "ci95": bootstrap_ci(hits)}


def _grouped(preds: list[Prediction], key) -> dict[str, dict]:
    groups: dict[str, list[Prediction]] = defaultdict(list)
    for p in preds:
        groups[str(key(p))].append(p)
    return {k: accuracy(v) for k, v in sorted(groups.items())}


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def compositionality_gap(preds: list[Prediction], key=lambda p: p.category) -> dict[str, dict]:
    """Per group (default: category) and overall: tasks with all sub-questions right, and the share of
    those whose main answer is wrong."""
    subs: dict[str, list[Prediction]] = defaultdict(list)
    mains: dict[str, Prediction] = {}
    for p in preds:
        if p.sub_id is None:
            mains[p.parent_id] = p
        else:
            subs[p.parent_id].append(p)
    groups: dict[str, list[bool]] = defaultdict(list)
    for pid, main in mains.items():
        if subs.get(pid) and all(s.score.correct for s in subs[pid]):
            groups[str(key(main))].append(not main.score.correct)
            groups["all"].append(not main.score.correct)
    return {g: {"n_subs_right": len(v), "main_wrong": sum(v), "gap": round(sum(v) / len(v), 4) if v else None,
                "ci95": bootstrap_ci([float(x) for x in v])} for g, v in sorted(groups.items())}


def _design(mains: list[Prediction]) -> dict | None:
    verdicts = [p.score.design for p in mains if p.score.design is not None]
    if not verdicts:
        return None
    valid = [v for v in verdicts if v.valid]
    keys = [v.polymer for v in valid]
    return {"n": len(verdicts), "valid": len(valid), "verified": sum(v.verified for v in verdicts),
            "estimated_ok": sum(v.estimated_ok for v in verdicts), "novel": sum(bool(v.novel) for v in valid),
            "uniqueness": round(len(set(keys)) / len(keys), 4) if keys else None,
            "verified_accuracy": accuracy([p for p in mains if p.score.design is not None])}


def _numbers(mains: list[Prediction]) -> dict:
    by_template: dict[str, list[Prediction]] = defaultdict(list)
    for p in mains:
        if p.answer_type == "number":
            by_template[p.template].append(p)
    out = {}
    for template, ps in sorted(by_template.items()):
        errors = [p.score.metrics.get("abs_error") for p in ps]
        scored = [e for e in errors if e is not None]
        units = sorted({p.score.error_unit or "" for p in ps})
        out[template] = {"n": len(ps), "n_scored": len(scored), "mae": _mean(scored), "unit": ", ".join(units),
                         "within_tolerance": accuracy(ps)}
    return out


def cell_metrics(preds: list[Prediction]) -> dict:
    """Every metric of one cell on one benchmark."""
    mains = [p for p in preds if p.sub_id is None]
    subs = [p for p in preds if p.sub_id is not None]
    taus = [float(t) for p in mains if (t := p.score.metrics.get("tau")) is not None]
    f1s = [float(f) for p in mains if (f := p.score.metrics.get("f1")) is not None]
    return {
        "overall": accuracy(mains),
        "by_category": _grouped(mains, lambda p: p.category),
        "by_template": _grouped(mains, lambda p: p.template),
        "by_difficulty": _grouped(mains, lambda p: p.difficulty),
        "by_answer_type": _grouped(mains, lambda p: p.answer_type),
        "by_skill": _grouped(subs, lambda p: p.skill),
        "sub_questions": accuracy(subs),
        "answered_without_answer_line": sum(p.score.note == NO_ANSWER_LINE for p in preds),
        "outcomes": dict(Counter(p.score.outcome for p in mains)),
        "errors": {c: n for c in ERROR_CLASSES if (n := sum(p.error_class == c for p in mains))},
        "numbers": _numbers(mains),
        "ranking_mean_tau": _mean(taus),
        "set_mean_f1": _mean(f1s),
        "design": _design(mains),
        "compositionality_gap": compositionality_gap(preds),
        "misses_by_template": dict(Counter(p.template for p in mains if not p.score.correct)),
    }


def paired_gain(a: list[Prediction], b: list[Prediction]) -> dict[str, dict]:
    """Accuracy of a minus b per category (and 'all') on the main tasks both cells answered."""
    left = {p.parent_id: p for p in a if p.sub_id is None}
    right = {p.parent_id: p for p in b if p.sub_id is None}
    shared = sorted(left.keys() & right.keys())
    groups: dict[str, list[str]] = defaultdict(list)
    for pid in shared:
        groups[left[pid].category].append(pid)
        groups["all"].append(pid)
    out = {}
    for g, ids in sorted(groups.items()):
        acc_a = sum(left[i].score.correct for i in ids) / len(ids)
        acc_b = sum(right[i].score.correct for i in ids) / len(ids)
        diffs = [float(left[i].score.correct) - float(right[i].score.correct) for i in ids]
        out[g] = {"n": len(ids), "a": round(acc_a, 4), "b": round(acc_b, 4), "gain": round(acc_a - acc_b, 4),
                  "ci95": bootstrap_ci(diffs)}
    return out


def all_metrics(preds: list[Prediction]) -> dict:
    """Metrics per benchmark and cell, with paired differences on the same tasks: CoT on - off, tools -
    standalone, a fine-tuned adapter - its base model (same mode and CoT), every model cell - each baseline."""
    by: dict[str, dict[Cell, list[Prediction]]] = defaultdict(lambda: defaultdict(list))
    for p in preds:
        by[p.benchmark][p.cell].append(p)
    out: dict = {}
    for bench, cells in sorted(by.items()):
        ordered = sorted(cells, key=lambda c: c.name)
        cot_gain, tools_gain, adapter_gain, baseline_gain = {}, {}, {}, {}
        baselines = [c for c in ordered if c.mode == "baseline"]
        for c in ordered:
            base = c.model_copy(update={"model": c.model.split(ADAPTER_MARK)[0]})
            if ADAPTER_MARK in c.model and base in cells:
                adapter_gain[c.name] = paired_gain(cells[c], cells[base])
            for b in baselines if c.mode != "baseline" else []:
                baseline_gain[f"{c.name} vs {b.model}"] = paired_gain(cells[c], cells[b])
            off = c.model_copy(update={"cot": False})
            if c.cot and off in cells:
                cot_gain[f"{c.model} | {c.mode}"] = paired_gain(cells[c], cells[off])
            alone = c.model_copy(update={"mode": "standalone"})
            if c.mode == "tools" and alone in cells:
                tools_gain[f"{c.model} | cot {'on' if c.cot else 'off'}"] = paired_gain(cells[c], cells[alone])
        out[bench] = {"cells": {c.name: {"cell": c.model_dump(), **cell_metrics(cells[c])} for c in ordered},
                      "cot_gain": cot_gain, "tools_vs_standalone": tools_gain,
                      "adapter_vs_base": adapter_gain, "vs_baseline": baseline_gain}
    return out
