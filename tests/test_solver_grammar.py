"""The reply grammar of constrained decoding: the tool-call lines the renderer writes and answers of every type
pass; unknown tools, unknown arguments and answers of the wrong shape do not."""

from __future__ import annotations

from pathlib import Path

import pytest
from xgrammar.testing import _is_grammar_accept_string as accepts

from agents.schema import ToolCall
from agents.solver.grammar import answer_rule, reply_grammar
from agents.solver.render import tool_call_text
from tools.kb_view import KBView
from tools.langchain_tools import build_tools


@pytest.fixture(scope="module")
def tools():
    return build_tools(KBView(Path("no-kb-needed-for-schemas")))


@pytest.fixture(scope="module")
def choice_grammar(tools):
    return reply_grammar(tools, answer=answer_rule("choice", ["A", "B", "C"]))


def test_rendered_tool_calls_pass(choice_grammar):
    for call in [ToolCall(name="validate_polymer", args={"polymer": "*CC(*)C"}),
                 ToolCall(name="get_property_values", args={"polymer": "*CC(*)C", "property": "tg"})]:
        assert accepts(choice_grammar, tool_call_text(call))
        assert accepts(choice_grammar, "I check the unit first.\n" + tool_call_text(call))


def test_unknown_tools_and_arguments_fail(choice_grammar):
    assert not accepts(choice_grammar, tool_call_text(ToolCall(name="rm_rf", args={})))
    assert not accepts(choice_grammar, tool_call_text(ToolCall(name="validate_polymer", args={"smiles": "*C*"})))
    assert not accepts(choice_grammar, "just some words")


@pytest.mark.parametrize("answer_type, labels, good, bad", [
    ("choice", ["A", "B", "C"], "B", "D"),
    ("yes_no", None, "yes", "maybe"),
    ("number", None, "373.2 K", "about 373"),
    ("ranking", ["A", "B", "C"], "A > C > B", "A > C < B"),
    ("set", ["P1", "P2"], "P1, P2", "P3"),
    ("polymer", None, "*CC(*)c1ccccc1", "CCc1ccccc1"),
])
def test_answers_have_their_type_shape(tools, answer_type, labels, good, bad):
    grammar = reply_grammar(tools[:1], thought=False, answer=answer_rule(answer_type, labels))
    assert accepts(grammar, f"Answer: {good}")
    assert not accepts(grammar, f"Answer: {bad}")
