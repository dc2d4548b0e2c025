"""Two reference baselines, fitted on train-split data only: a constant guess and a nearest neighbour.

    from eval.baselines import constant_baseline, nearest_neighbour_baseline
    answer = nearest_neighbour_baseline(kb_dir, train_tasks).answer(task)   # Answer | None

Both answer from a task's question-visible parts (params, options, constraints) and train data, never from
its gold. `python -m bench.bench_baselines` scores them per template on the test split.

- constant: one answer per template (and, for numbers, per asked property and kind): the most frequent
  train gold letter / yes-no / set / ranking / polymer; for numbers the train golds' mode when they are
  exact counts, else their median.
- nearest neighbour: a question about measured values (params name a property) replaces every polymer it
  shows by its most similar train polymer with a value of that property and kind (Morgan Tanimoto) and
  answers with that polymer's KB median (group constraints with its functional groups); any other question
  takes the answer of the most similar train question of the same template (character n-gram TF-IDF
  cosine): its number, yes / no, set or polymer, or the option whose text is closest to its gold option.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from agents.schema import Answer, Task
from kb.config import KBPaths
from kb.features import GROUP_COLUMNS, fingerprint_of
from kb.properties import get_property
from kb.store import connect_read_only
from kb.units import UnitError, convert

LETTERS = "ABCDEFGH"


class Baseline(Protocol):
    name: str

    def answer(self, task: Task) -> Answer | None: ...


def _options(task: Task) -> list[str]:
    return [o.split(") ", 1)[-1] for o in task.options or []]


def _gold_text(task: Task) -> str | None:
    texts = _options(task)
    i = LETTERS.find(task.gold.choice or "?")
    return texts[i] if 0 <= i < len(texts) else None


# --- constant ---------------------------------------------------------------------------------------------

@dataclass
class ConstantBaseline:
    """The most common (or median) train answer per template (numbers: per property and kind as well)."""

    answers: dict[tuple, Answer]
    name: str = "constant"

    def answer(self, task: Task) -> Answer | None:
        p = task.params
        for key in ((task.template, p.property, p.kind, p.order, len(p.polymers)), (task.template, p.order),
                    (task.template,)):
            if key in self.answers:
                return self.answers[key]
        return None


def _constant_of(golds: list[Answer]) -> Answer:
    if golds[0].type == "number":
        numbers = [g.number for g in golds if g.number is not None]
        exact = all(g.tolerance == 0 and float(g.number).is_integer() for g in golds)
        value = Counter(numbers).most_common(1)[0][0] if exact else statistics.median(numbers)
        return Answer(type="number", number=value, unit=golds[0].unit)
    key = Counter(g.model_dump_json(exclude={"tolerance", "log_tolerance"}) for g in golds).most_common(1)[0][0]
    return Answer.model_validate_json(key)


def constant_baseline(train_tasks: list[Task]) -> ConstantBaseline:
    """Fit the constant baseline on train tasks (their golds only)."""
    groups: dict[tuple, list[Answer]] = defaultdict(list)
    for t in train_tasks:
        if t.split != "train":
            continue
        p = t.params
        groups[(t.template,)].append(t.gold)
        if t.answer_type in ("number", "ranking"):
            groups[(t.template, p.order)].append(t.gold)
            groups[(t.template, p.property, p.kind, p.order, len(p.polymers))].append(t.gold)
    return ConstantBaseline({k: _constant_of(v) for k, v in sorted(groups.items(), key=lambda kv: str(kv[0]))})


# --- nearest neighbour ------------------------------------------------------------------------------------

@dataclass
class _TrainPolymers:
    """Train polymers with measured values: fingerprints, medians per (property, kind), group counts."""

    ids: np.ndarray
    bits: np.ndarray                                     # ids x 2048, float32 0/1
    counts: np.ndarray                                   # bits per row
    members: dict[tuple[str, str], np.ndarray]           # (property, kind) -> row positions
    value: dict[tuple[int, str, str], float]
    groups: dict[int, dict[str, int]]

    def nearest(self, key: str, prop: str | None = None, kind: str | None = None) -> int | None:
        """Row of the most similar train polymer with a value of (prop, kind) (any, when prop is None)."""
        rows = np.arange(len(self.ids)) if prop is None else self.members.get((prop, kind or ""))
        if rows is None or not len(rows):
            return None
        q = np.unpackbits(np.frombuffer(fingerprint_of(key), dtype=np.uint8)).astype(np.float32)
        inter = self.bits[rows] @ q
        sim = inter / np.maximum(self.counts[rows] + q.sum() - inter, 1)
        return int(rows[int(np.argmax(sim))])


def _train_polymers(kb_dir: Path) -> _TrainPolymers:
    con = connect_read_only(KBPaths(kb_dir).db)
    try:
        values = con.execute("""SELECT s.polymer_id, s.property, s.kind, s.value FROM property_summary s
                                JOIN polymers p USING (polymer_id) WHERE p.split = 'train' AND p.status = 'linear'
                                ORDER BY 1, 2, 3""").fetchall()
        ids = np.array(sorted({r[0] for r in values}), dtype=np.int64)
        con.execute("CREATE TEMP TABLE wanted AS SELECT unnest(?::BIGINT[]) AS polymer_id", [ids.tolist()])
        fps = dict(con.execute("SELECT polymer_id, morgan FROM fingerprints JOIN wanted USING (polymer_id)")
                   .fetchall())
        cols = ", ".join(GROUP_COLUMNS.values())
        feats = con.execute(f"SELECT polymer_id, {cols} FROM features JOIN wanted USING (polymer_id)").fetchall()
    finally:
        con.close()
    ids = np.array([i for i in ids if i in fps], dtype=np.int64)
    bits = np.stack([np.unpackbits(np.frombuffer(fps[i], dtype=np.uint8)) for i in ids]).astype(np.float32)
    position = {int(i): n for n, i in enumerate(ids)}
    members: dict[tuple[str, str], list[int]] = defaultdict(list)
    value = {}
    for pid, prop, kind, v in values:
        if pid in position:
            members[(prop, kind)].append(position[pid])
            value[(pid, prop, kind)] = float(v)
    groups = {int(r[0]): dict(zip(GROUP_COLUMNS, (int(x or 0) for x in r[1:]))) for r in feats}
    return _TrainPolymers(ids, bits, bits.sum(axis=1), {k: np.array(v) for k, v in members.items()}, value,
                          groups)


@dataclass
class _TrainQuestions:
    """Per template: a TF-IDF index of the train questions (with options) and their tasks."""

    tasks: dict[str, list[Task]]
    vectorizers: dict = field(default_factory=dict)
    matrices: dict = field(default_factory=dict)

    def nearest(self, task: Task) -> Task | None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        pool = self.tasks.get(task.template)
        if not pool:
            return None
        if task.template not in self.vectorizers:
            vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), min_df=1, sublinear_tf=True)
            self.matrices[task.template] = vec.fit_transform([_text(t) for t in pool])
            self.vectorizers[task.template] = vec
        sims = (self.matrices[task.template] @ self.vectorizers[task.template].transform([_text(task)]).T).toarray()
        return pool[int(np.argmax(sims[:, 0]))]


def _text(task: Task) -> str:
    return task.question + "\n" + "\n".join(_options(task))


def _closest_option(task: Task, text: str | None) -> str | None:
    """The letter of the option equal to (or sharing most character trigrams with) a text."""
    options = _options(task)
    if text is None or not options:
        return None
    if text in options:
        return LETTERS[options.index(text)]
    grams = {text[i:i + 3] for i in range(len(text) - 2)}
    overlap = [len(grams & {o[i:i + 3] for i in range(len(o) - 2)}) for o in options]
    return LETTERS[int(np.argmax(overlap))]


@dataclass
class NearestNeighbourBaseline:
    polymers: _TrainPolymers
    questions: _TrainQuestions
    name: str = "nearest_neighbour"

    def answer(self, task: Task) -> Answer | None:
        p = task.params
        if p.property and p.polymers and task.template != "property_definition":
            return self._by_polymers(task)
        return self._by_question(task)

    def _value(self, psmiles: str, prop: str, kind: str | None) -> float | None:
        row = self.polymers.nearest(psmiles, prop, kind)
        return None if row is None else self.polymers.value[(int(self.polymers.ids[row]), prop, kind)]

    def _by_polymers(self, task: Task) -> Answer | None:
        p = task.params
        if task.template == "gas_selectivity_tradeoff":
            return self._gas(task)
        values = [self._value(r.psmiles, p.property, p.kind) for r in p.polymers]
        if any(v is None for v in values):
            return None
        if task.answer_type == "number":
            return Answer(type="number", number=values[0], unit=get_property(p.property).unit)
        if task.template == "property_value_choice":
            log = get_property(p.property).log_scale
            options = [float(o.split(" ")[0]) for o in _options(task)]
            dist = [abs(math.log10(o / values[0])) if log and o > 0 and values[0] > 0 else abs(o - values[0])
                    for o in options]
            return Answer(type="choice", choice=LETTERS[int(np.argmin(dist))])
        if task.template.startswith("pair_higher"):
            higher = values[0] > values[1]
            return Answer(type="choice", choice="A" if higher == (p.direction == "higher") else "B")
        if task.answer_type == "ranking":
            order = sorted(range(len(values)), key=lambda i: values[i], reverse=p.order == "descending")
            return Answer(type="ranking", ranking=[LETTERS[i] for i in order], order=p.order)
        if task.template == "unit_threshold":
            try:
                value = convert(values[0], get_property(p.property).unit, p.unit or "")
            except UnitError:
                return None
            return Answer(type="yes_no", yes=(value > p.threshold) == (p.direction == "higher"))
        if task.template == "structure_change_effect":
            word = "increases" if values[1] > values[0] else "decreases"
            return Answer(type="choice", choice=_closest_option(task, next(o for o in _options(task) if word in o)))
        return None

    def _gas(self, task: Task) -> Answer | None:
        p = task.params
        first, second = (f"perm_{g.lower()}" for g in p.gases)
        best, best_sel = None, -math.inf
        for ref in p.polymers:
            pa, pb = self._value(ref.psmiles, first, p.kind), self._value(ref.psmiles, second, p.kind)
            if pa is None or pb is None or pb <= 0:
                continue
            if pa > (p.threshold or 0) and pa / pb > best_sel:
                best, best_sel = ref.label, pa / pb
        return Answer(type="choice", choice=best) if best else None

    def _filter(self, task: Task) -> Answer | None:
        labels = []
        for ref in task.params.polymers:
            ok = True
            for c in task.constraints:
                if c.type == "property_range":
                    row = self.polymers.nearest(ref.psmiles, c.property or "", c.kind)
                    if row is None:
                        return None
                    v = self.polymers.value[(int(self.polymers.ids[row]), c.property, c.kind)]
                    ok &= (c.min is None or v >= c.min) and (c.max is None or v <= c.max)
                else:
                    row = self.polymers.nearest(ref.psmiles)
                    present = row is not None and self.polymers.groups.get(
                        int(self.polymers.ids[row]), {}).get(c.group or "", 0) > 0
                    ok &= present == (c.type == "require_group")
            if ok:
                labels.append(ref.label)
        return Answer(type="set", items=labels)

    def _by_question(self, task: Task) -> Answer | None:
        if task.template == "constraint_filter":
            return self._filter(task)
        twin = self.questions.nearest(task)
        if twin is None:
            return None
        gold = twin.gold
        if task.answer_type == "choice":
            return Answer(type="choice", choice=_closest_option(task, _gold_text(twin)) or gold.choice)
        if task.answer_type == "ranking":
            return Answer(type="ranking", ranking=gold.ranking, order=gold.order)
        return gold.model_copy(update={"tolerance": None, "log_tolerance": None})


def nearest_neighbour_baseline(kb_dir: Path, train_tasks: list[Task]) -> NearestNeighbourBaseline:
    """Fit the nearest-neighbour baseline on the KB's train split and the train tasks."""
    by_template: dict[str, list[Task]] = defaultdict(list)
    for t in train_tasks:
        if t.split == "train":
            by_template[t.template].append(t)
    return NearestNeighbourBaseline(_train_polymers(Path(kb_dir)), _TrainQuestions(dict(by_template)))
