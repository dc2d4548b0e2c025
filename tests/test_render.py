"""Trace renderings: both end in an Answer: line that parses back; tool calls read back as written."""

from __future__ import annotations

from agents.answer_text import read_answer
from agents.answers import answers_match
from agents.schema import Answer, Step, Task, ToolCall, Trace
from agents.solver.render import read_tool_call, render_standalone, render_tool_transcript, tool_call_text

GOLD = Answer(type="number", number=373.0, unit="K", tolerance=10)
TASK = Task(id="t1", split="train", category="property_prediction", template="property_value", difficulty=2,
            question="What is the Tg of polystyrene?", answer_type="number", gold=GOLD, generator="g",
            generator_version="1")
CALL = ToolCall(name="get_property_values", args={"polymer": "*CC(*)c1ccccc1", "property": "tg"})
TRACE = Trace(task_id="t1", model="reasoner", final_answer=GOLD, steps=[
    Step(skill="look-up-property", thought="Look up the measured Tg.", tool_call=CALL,
         observation='{"ok": true, "data": {"median": 373.0}}', conclusion="The KB median Tg is 373 K."),
    Step(skill="compose", thought="So the Tg is 373 K."),
])


def test_both_renderings_end_in_an_answer_that_parses_back() -> None:
    cot = render_standalone(TRACE)
    assert "Tool call" not in cot and "373 K" in cot
    assert answers_match(GOLD, read_answer(cot, TASK).answer)
    turns = render_tool_transcript(TRACE)
    assert [t["role"] for t in turns] == ["assistant", "tool", "assistant"]
    assert read_tool_call(turns[0]["content"]) == CALL
    assert answers_match(GOLD, read_answer(turns[-1]["content"], TASK).answer)


def test_tool_calls_read_back_and_malformed_ones_are_none() -> None:
    assert read_tool_call(tool_call_text(CALL)) == CALL
    assert read_tool_call('Tool call: {"name": "x"}') is None
    assert read_tool_call("Tool call: {not json}") is None
    assert read_tool_call("no call here") is None
