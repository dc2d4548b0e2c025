"""The `Answer:` line: render -> parse round trips for every answer type, and what a model may write."""

from __future__ import annotations

import pytest

from agents.answer_text import UnparseableAnswer, answer_line, final_answer_text, parse_answer, read_answer
from agents.answers import answers_match
from agents.schema import Answer, Task

ROUND_TRIP = [
    Answer(type="choice", choice="C"),
    Answer(type="number", number=373.15, unit="K", tolerance=5),
    Answer(type="number", number=1.25e-3, unit="cm2/s", log_tolerance=0.1),
    Answer(type="number", number=7.0, tolerance=0),
    Answer(type="ranking", ranking=["B", "A", "C"], order="ascending"),
    Answer(type="ranking", ranking=["C", "A", "B"], order="descending"),
    Answer(type="set", items=["A", "D"]),
    Answer(type="set", items=[]),
    Answer(type="yes_no", yes=True),
    Answer(type="yes_no", yes=False),
    Answer(type="polymer", polymer="*CC(*)c1ccccc1"),
]


def _task(gold: Answer, options: list[str] | None = None) -> Task:
    return Task(id="t", split="test", category="property_prediction", template="x", difficulty=1,
                question="q", answer_type=gold.type, gold=gold, options=options, generator="g",
                generator_version="1")


@pytest.mark.parametrize("gold", ROUND_TRIP, ids=lambda a: f"{a.type}:{a.text()}")
def test_render_then_parse_gives_the_same_answer(gold: Answer) -> None:
    task = _task(gold, ["A) x", "B) y", "C) z", "D) w"] if gold.type == "choice" else None)
    got = read_answer(f"Some reasoning.\n{answer_line(gold)}", task)
    assert got.status == "answered", got.reason
    assert answers_match(gold, got.answer)


def test_a_ranking_written_the_other_way_round_is_the_same_order() -> None:
    gold = Answer(type="ranking", ranking=["B", "A", "C"], order="ascending")
    assert answers_match(gold, parse_answer("C > A > B", "ranking"))
    assert not answers_match(gold, parse_answer("B > A > C", "ranking"))
    assert parse_answer("B, A, C", "ranking", default_order="ascending").order == "ascending"
    with pytest.raises(UnparseableAnswer):
        parse_answer("B, A, C", "ranking")  # no direction anywhere
    with pytest.raises(UnparseableAnswer):
        parse_answer("A > B < C", "ranking")


@pytest.mark.parametrize(("text", "value", "unit"), [
    ("100 °C", 100.0, "degC"), ("373K", 373.0, "K"), ("1.2e3 Barrer", 1200.0, "Barrer"),
    ("1.2 x 10^3 Barrer", 1200.0, "Barrer"), ("-45.5 degC", -45.5, "degC"), ("1,234 g/mol", 1234.0, "g/mol"),
    ("about 1.05 g/cm3 (estimated)", 1.05, "g/cm3"), ("7", 7.0, None),
])
def test_numbers_are_read_with_the_unit_written(text: str, value: float, unit: str | None) -> None:
    got = parse_answer(text, "number")
    assert got.number == pytest.approx(value)
    assert got.unit == unit


def test_a_number_in_another_unit_is_converted_before_it_is_compared() -> None:
    gold = Answer(type="number", number=373.15, unit="K", tolerance=2)
    assert answers_match(gold, parse_answer("100 °C", "number"))
    assert answers_match(gold, parse_answer("212 degF", "number"))
    assert not answers_match(gold, parse_answer("100 K", "number"))
    assert not answers_match(gold, parse_answer("100 g/cm3", "number"))  # wrong dimension: wrong, no error


def test_polymers_match_by_repeat_unit_not_by_string() -> None:
    gold = Answer(type="polymer", polymer="*CC(*)c1ccccc1")
    assert answers_match(gold, Answer(type="polymer", polymer="*C(c1ccccc1)C*"))
    assert answers_match(Answer(type="polymer", polymer="*CCO*"), Answer(type="polymer", polymer="*OCC*"))
    assert not answers_match(gold, Answer(type="polymer", polymer="*CC(*)C"))
    assert not answers_match(gold, Answer(type="polymer", polymer="*C(*"))


@pytest.mark.parametrize("output", ["I don't know.", "Answer: I cannot determine this", "Answer: unknown"])
def test_refusals_are_counted_as_refusals(output: str) -> None:
    assert read_answer(output, _task(Answer(type="yes_no", yes=True))).status == "refused"


@pytest.mark.parametrize(("output", "answer_type"), [
    ("The polymer is glassy.", "yes_no"), ("Answer: maybe", "yes_no"), ("Answer: Z", "choice"),
    ("Answer: about forty", "number"), ("Answer:", "set"), ("Answer: polystyrene", "polymer"),
])
def test_malformed_outputs_are_unparseable_with_a_reason(output: str, answer_type: str) -> None:
    gold = {"yes_no": Answer(type="yes_no", yes=True), "choice": Answer(type="choice", choice="A"),
            "number": Answer(type="number", number=1.0), "set": Answer(type="set", items=["A"]),
            "polymer": Answer(type="polymer", polymer="*CC*")}[answer_type]
    got = read_answer(output, _task(gold, ["A) x", "B) y"] if answer_type == "choice" else None))
    assert got.status == "unparseable" and got.reason


def test_the_last_answer_line_counts_and_markdown_is_accepted() -> None:
    assert final_answer_text("Answer: A\nwait\n**Final answer:** B") == "B"
    assert final_answer_text("no line here") is None


def test_choice_accepts_common_writings() -> None:
    for text in ["B", "B)", "(B)", "b.", "Option B", "B) polystyrene"]:
        assert parse_answer(text, "choice", labels=["A", "B"]).choice == "B"
