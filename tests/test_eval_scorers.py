"""eval.scorers on hand-made right and wrong outputs: unit variants, other writings of a polymer, malformed
outputs and refusals (counted with their outcome, never dropped)."""

from __future__ import annotations

import pytest

from agents.answer_text import read_answer
from agents.schema import Answer, Constraint, SubQuestion, Task, TaskParams
from eval.scorers import SCORERS, score_answer, score_reading


def _task(gold: Answer, **extra) -> Task:
    base = {"id": "t1", "split": "test", "category": "property_prediction", "template": "hand_made", "difficulty": 1,
            "question": "?", "answer_type": gold.type, "gold": gold, "generator": "test", "generator_version": "1"}
    return Task(**{**base, **extra})


def _score(task: Task, output: str):
    return score_reading(task, read_answer(output, task))


def test_every_answer_type_has_a_scorer() -> None:
    assert set(SCORERS) == {"choice", "number", "ranking", "set", "polymer", "yes_no"}


def test_number_unit_variants_and_error_in_canonical_unit() -> None:
    task = _task(Answer(type="number", number=373.0, unit="K", tolerance=5.0), params=TaskParams(property="tg"))
    right_k, right_c, wrong = _score(task, "Answer: 375 K"), _score(task, "Answer: 100 °C"), _score(task, "Answer: 400 K")
    assert right_k.correct and right_c.correct and not wrong.correct
    assert right_c.error_unit == "K" and right_c.metrics["abs_error"] == pytest.approx(0.15, abs=1e-6)
    assert wrong.outcome == "wrong" and wrong.metrics["abs_error"] == pytest.approx(27.0)
    no_unit = _score(task, "Answer: 372")          # no unit written: read in the gold's unit
    assert no_unit.correct
    bad_unit = _score(task, "Answer: 373 furlongs")  # a unit that does not convert is wrong, with a note
    assert not bad_unit.correct and bad_unit.metrics.get("abs_error") is None and "convert" in bad_unit.note


def test_log_tolerance_numbers() -> None:
    task = _task(Answer(type="number", number=10.0, unit="Barrer", log_tolerance=0.3))
    assert _score(task, "Answer: 15 Barrer").correct
    assert not _score(task, "Answer: 30 Barrer").correct


def test_choice_and_yes_no() -> None:
    task = _task(Answer(type="choice", choice="B"), options=["A) x", "B) y", "C) z"])
    assert _score(task, "Some thought.\nAnswer: B").correct
    assert _score(task, "Answer: (b)").correct
    assert not _score(task, "Answer: C").correct
    assert _score(task, "Answer: F").outcome == "unparseable"   # not an option letter
    yes = _task(Answer(type="yes_no", yes=True))
    assert _score(yes, "Answer: Yes.").correct and not _score(yes, "Answer: no").correct


def test_ranking_tau_and_direction() -> None:
    task = _task(Answer(type="ranking", ranking=["C", "A", "B"], order="descending"),
                 params=TaskParams(order="descending"))
    same = _score(task, "Answer: B < A < C")        # the same order written lowest first
    assert same.correct and same.metrics["tau"] == 1.0
    swapped = _score(task, "Answer: C > B > A")
    assert not swapped.correct and swapped.metrics["tau"] == pytest.approx(1 / 3)
    assert _score(task, "Answer: A > B < C").outcome == "unparseable"


def test_set_f1_and_exact() -> None:
    task = _task(Answer(type="set", items=["P1", "P3"]))
    assert _score(task, "Answer: P3, P1").correct
    part = _score(task, "Answer: P1")
    assert not part.correct and part.metrics["f1"] == pytest.approx(2 / 3)
    none = _task(Answer(type="set", items=[]))
    assert _score(none, "Answer: none").correct and not _score(none, "Answer: P2").correct


def test_polymer_by_canonical_key() -> None:
    task = _task(Answer(type="polymer", polymer="*CC(*)c1ccccc1"))
    assert _score(task, "Answer: *C(c1ccccc1)C*").correct          # another writing of polystyrene
    assert _score(task, "Answer: *CC(c1ccccc1)CC(*)c1ccccc1").correct  # the doubled unit
    wrong = _score(task, "Answer: *CC(*)C")
    assert not wrong.correct and wrong.outcome == "wrong"
    junk = _score(task, "Answer: *C(((*")
    assert not junk.correct and junk.metrics["valid"] == 0.0


@pytest.mark.parametrize("output, outcome", [
    ("I don't know the answer to this.", "refused"),
    ("Answer: I cannot determine this", "refused"),
    ("The value is high.", "unparseable"),
    ("Answer: banana K", "unparseable"),
    ("", "unparseable"),
])
def test_malformed_and_refusals_are_outcomes(output, outcome) -> None:
    task = _task(Answer(type="number", number=373.0, unit="K", tolerance=5.0))
    score = _score(task, output)
    assert score.outcome == outcome and score.correct is False


def test_wrong_type_and_missing_answer() -> None:
    task = _task(Answer(type="yes_no", yes=True))
    assert score_answer(task, None).outcome == "unparseable"
    assert score_answer(task, Answer(type="choice", choice="A")).outcome == "wrong"


def test_design_needs_a_judge() -> None:
    gold = Answer(type="polymer", polymer="*CC(*)c1ccccc1")
    task = _task(gold, category="synthesis_design", difficulty=4, constraints=[Constraint(type="require_group",
                 group="phenyl"), Constraint(type="forbid_group", group="ester")],
                 sub_questions=[SubQuestion(id="compose", question="?", skill="compose", gold=gold)])
    score = score_answer(task, gold)
    assert not score.correct and "DesignJudge" in score.note


def test_lenient_reading_without_an_answer_line() -> None:
    from eval.produce import NO_ANSWER_LINE, read_leniently

    yes = _task(Answer(type="yes_no", yes=False))
    read = read_leniently("Let me think.\nNo, the Tg is not above 140 °C.", yes)
    assert read.status == "answered" and read.answer.yes is False and read.reason == NO_ANSWER_LINE
    assert read_leniently("Answer: maybe", yes).status == "unparseable"     # a written line is never second-guessed
    assert read_leniently("The polymer is stiff.", yes).status == "unparseable"
    assert read_leniently("Answer: yes", yes).reason is None
