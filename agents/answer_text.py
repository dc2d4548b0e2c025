"""The one `Answer:` line: how every answer is written at the end of a trace or a model output, and read back.

`answer_line(Answer)` renders it; `read_answer(output, task)` finds the last `Answer:` line of any model
output and parses it into an `Answer` of the task's type, or says why it could not (unparseable, or a
refusal). Render -> parse is a round trip for every answer type (tests/test_answer_text.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from agents.schema import Answer, AnswerType, RankingOrder, Task
from kb.errors import PolyBenchError, UnitError
from kb.units import canonical_unit_name

ANSWER_PREFIX = "Answer:"
_ANSWER_LINE = re.compile(r"^\s*(?:\*\*)?\s*(?:final\s+)?answer\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?(.*)$",
                          re.IGNORECASE | re.MULTILINE)
_REFUSAL = re.compile(r"^\s*(?:i\s+(?:do\s*n[o']?t|cannot|can't|am\s+unable\s+to)\s+(?:know|answer|determine|"
                      r"tell|say)|unknown|not\s+sure|no\s+answer|cannot\s+(?:be\s+)?(?:determined|answer)|n/?a)\b",
                      re.IGNORECASE)
_NUMBER = re.compile(r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+−]?\d+)?")
_TIMES_TEN = re.compile(r"^\s*(?:x|×|\*)\s*10\s*\^\s*\(?\s*([-+−]?\d+)\s*\)?")
_YES = {"yes", "y", "true", "correct"}
_NO = {"no", "n", "false", "incorrect"}
_NONE_WORDS = {"none", "nothing", "empty", "no polymer", "none of them", "-"}


class UnparseableAnswer(PolyBenchError, ValueError):
    """A model's answer text that cannot be read as the task's answer type; the message says why."""


@dataclass(frozen=True)
class ReadAnswer:
    """What was read from one output: an Answer, or the reason there is none (and whether it was a refusal)."""

    status: Literal["answered", "unparseable", "refused"]
    answer: Answer | None = None
    raw: str | None = None          # the text after the last 'Answer:' (None when there is no such line)
    reason: str | None = None


def answer_line(answer: Answer) -> str:
    """`Answer: <text>`: the last line of every trace rendering and every expected model output."""
    return f"{ANSWER_PREFIX} {answer.text()}"


def final_answer_text(output: str) -> str | None:
    """The text after the last `Answer:` line of an output (markdown bold and 'Final answer' accepted)."""
    found = _ANSWER_LINE.findall(output or "")
    if not found:
        return None
    text = found[-1].strip()
    while text.startswith("**") or text.endswith("**") and not text.endswith("***"):  # markdown bold
        text = text.removeprefix("**").removesuffix("**").strip()
    return text


def option_labels(task: Task) -> list[str]:
    """The letters of a choice task's options ('A) ...' -> 'A')."""
    return [o.split(")", 1)[0].strip() for o in task.options or []]


def parse_answer(text: str, answer_type: AnswerType, *, labels: list[str] | None = None,
                 default_order: RankingOrder | None = None) -> Answer:
    """The Answer written in `text` (the part after 'Answer:'); UnparseableAnswer saying why otherwise."""
    text = (text or "").strip().rstrip(".").strip()
    if not text:
        raise UnparseableAnswer("the answer is empty")
    if answer_type == "choice":
        return _choice(text, labels)
    if answer_type == "ranking":
        return _ranking(text, default_order)
    return {"number": _number, "set": _set, "yes_no": _yes_no, "polymer": _polymer}[answer_type](text)


def read_answer(output: str, task: Task) -> ReadAnswer:
    """The answer of one model output to `task`: parsed, refused, or unparseable with the reason."""
    raw = final_answer_text(output)
    if raw is None:
        if _REFUSAL.search(output or ""):
            return ReadAnswer("refused", raw=None, reason="the model declined to answer")
        return ReadAnswer("unparseable", raw=None, reason=f"no '{ANSWER_PREFIX}' line in the output")
    if _REFUSAL.search(raw):
        return ReadAnswer("refused", raw=raw, reason="the model declined to answer")
    labels = option_labels(task) if task.answer_type == "choice" else None
    order = task.params.order if task.answer_type == "ranking" else None  # the direction the question asks for
    try:
        return ReadAnswer("answered", parse_answer(raw, task.answer_type, labels=labels, default_order=order), raw)
    except UnparseableAnswer as exc:
        return ReadAnswer("unparseable", raw=raw, reason=str(exc))


# --- one reader per answer type ------------------------------------------------------------------------

def _choice(text: str, labels: list[str] | None) -> Answer:
    match = re.match(r"^\(?\s*(?:option\s+)?([A-Za-z])\s*(?:[).:\]]|$|\s)", text, re.IGNORECASE)
    if not match:
        raise UnparseableAnswer(f"no option letter in {text[:80]!r}")
    letter = match.group(1).upper()
    if labels and letter not in labels:
        raise UnparseableAnswer(f"{letter!r} is not one of the options {', '.join(labels)}")
    return Answer(type="choice", choice=letter)


def _number(text: str) -> Answer:
    text = text.replace("−", "-").replace("\u2009", " ").strip()
    for start in range(len(text)):
        match = _NUMBER.match(text, start)
        if match and re.search(r"\d", match.group(0)):
            break
    else:
        raise UnparseableAnswer(f"no number in {text[:80]!r}")
    value = float(match.group(0).replace(",", "").replace("−", "-"))
    rest = text[match.end():]
    power = _TIMES_TEN.match(rest)
    if power:
        value *= 10.0 ** int(power.group(1).replace("−", "-"))
        rest = rest[power.end():]
    if not math.isfinite(value):
        raise UnparseableAnswer(f"{match.group(0)!r} is not a finite number")
    unit = rest.strip().split(" (")[0].strip().rstrip(".").strip() or None
    if unit:
        try:
            unit = canonical_unit_name(unit)
        except UnitError:
            pass  # an unknown unit is kept as written; the scorer cannot convert it and marks it wrong
    return Answer(type="number", number=value, unit=unit)


def _items(parts: list[str]) -> list[str]:
    out = [p.strip().strip("()").strip() for p in parts]
    if any(not p for p in out):
        raise UnparseableAnswer("an empty item between separators")
    return [p.upper() if len(p) == 1 else p for p in out]


def _ranking(text: str, default_order: RankingOrder | None) -> Answer:
    has_gt, has_lt = ">" in text, "<" in text
    if has_gt and has_lt:
        raise UnparseableAnswer("a ranking mixes '>' and '<'")
    if has_gt or has_lt:
        items = _items(text.split(">" if has_gt else "<"))
        order: RankingOrder | None = "descending" if has_gt else "ascending"
    else:
        items = _items(re.split(r"\s*,\s*|\s+", text))
        order = default_order
        if order is None:
            raise UnparseableAnswer("a ranking without '>' or '<' does not say its direction")
    if len(items) < 2 or len(set(items)) != len(items):
        raise UnparseableAnswer(f"a ranking needs two or more distinct labels, got {items}")
    return Answer(type="ranking", ranking=items, order=order)


def _set(text: str) -> Answer:
    if text.strip().casefold() in _NONE_WORDS:
        return Answer(type="set", items=[])
    parts = re.split(r"\s*(?:,|;|\band\b)\s*", text)
    return Answer(type="set", items=sorted(set(_items([p for p in parts if p.strip()]))))


def _yes_no(text: str) -> Answer:
    word = re.split(r"[\s,.;:!]", text.strip().casefold(), maxsplit=1)[0]
    if word in _YES:
        return Answer(type="yes_no", yes=True)
    if word in _NO:
        return Answer(type="yes_no", yes=False)
    raise UnparseableAnswer(f"expected yes or no, got {text[:80]!r}")


def _polymer(text: str) -> Answer:
    for token in re.split(r"\s+", text.strip().strip("`")):
        token = token.strip("`'\".,;")
        if "*" in token and len(token) > 2:
            return Answer(type="polymer", polymer=token)
    raise UnparseableAnswer(f"no repeat-unit SMILES with * ends in {text[:80]!r}")
