"""Every LangChain tool driven with hostile calls (bench/hostile_calls.py) on the small KB, test view.

Each call must come back as a ToolResult that refuses it (ok=false, or validate_polymer's valid=false)
with a message, never an exception. A crash (segfault) would end this process and fail the run.
Time limits are measured in bench/bench_tool_guard.py, not asserted here.
"""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import ToolMessage

from bench.hostile_calls import GOOD_CALLS, all_hostile_calls, refused
from tools.estimate import EstimateContext
from tools.kb_view import KBView
from tools.langchain_tools import build_tools, tool_specs
from tools.surrogate_train import SurrogateConfig, ensure_models

ESTIMATE_CONFIG = SurrogateConfig(min_train=20, properties=["tg", "density", "ffv"], tune=False, max_iter=150)


@pytest.fixture(scope="module")
def tools(small_kb, small_kb_config):
    ensure_models(small_kb_config.kb_dir, ESTIMATE_CONFIG)  # the models test_estimate trains, reused if there
    ctx = EstimateContext(KBView.for_split(small_kb_config.kb_dir, "test"))
    yield {t.name: t for t in build_tools(KBView.for_split(small_kb_config.kb_dir, "test"), ctx)}
    ctx.close()


def test_every_tool_has_good_and_hostile_calls(tools):
    assert set(tools) == set(GOOD_CALLS) == {s.name for s in tool_specs(estimate_ctx=object())}


@pytest.mark.parametrize("name", sorted(GOOD_CALLS))
def test_the_good_call_works(tools, name):
    answer = json.loads(tools[name].invoke(GOOD_CALLS[name]))
    assert answer["ok"], answer


@pytest.mark.parametrize("name", sorted(GOOD_CALLS))
def test_every_hostile_call_is_refused_with_a_message(tools, name):
    args_model = tools[name].args_schema
    calls = all_hostile_calls(name, args_model)
    assert len(calls) > 40
    wrong = {}
    for label, raw in calls:
        out = tools[name].invoke(raw)
        answer = json.loads(out)
        if not refused(name, answer) or not (answer.get("error") or answer.get("data", {}).get("problem")):
            wrong[label] = out[:300]
        assert len(out) < 20_000, label  # an error message never echoes a megabyte back
    assert not wrong, wrong


@pytest.mark.parametrize(("raw", "needle"), [
    ({"polymer": "*" + "C" * 19998 + "*"}, "at most 1000 characters"),
    ({"polymer": "*" + "C" * 600 + "*"}, "602 atoms; at most 400 are allowed"),
    ({"polymer": "C%50" + "".join(f"c{i % 9 + 1}ccc(cc{i % 9 + 1})" for i in range(24)) + "C%50"},
     "rings of more than 40 atoms"),
    ({"polymer": "*CC\ud800*"}, "unable to parse raw data as a unicode string"),
    ({"polymer": "9" * 40}, "no polymer with id"),
    ({"polymer": "\u00b2"}, "neither a valid repeat unit"),
    ({"polymer": "*CC*", "colour": "red"}, "unknown argument 'colour'"),
    ({}, "missing required argument 'polymer'"),
])
def test_messages_state_the_limit_or_the_fix(tools, raw, needle):
    answer = json.loads(tools["describe_polymer"].invoke(raw))
    assert answer["ok"] is False and needle in answer["error"], answer


def test_limits_on_lists_numbers_and_sql(tools):
    many = json.loads(tools["find_polymers"].invoke(
        {"constraints": [{"type": "property_range", "property": "tg", "min": 300}] * 500}))
    assert not many["ok"] and "at most 20 items" in many["error"]
    nan = json.loads(tools["find_polymers"].invoke(
        {"constraints": [{"type": "property_range", "property": "tg", "min": float("nan")}]}))
    assert not nan["ok"] and "finite number" in nan["error"]
    sql = json.loads(tools["sql"].invoke({"sql": "SELECT 1 -- " + "x" * 5000}))
    assert not sql["ok"] and "at most 4000 characters" in sql["error"]


def test_malformed_tool_call_envelopes_get_a_tool_message(tools):
    call = {"name": "describe_polymer", "args": "*CC*", "id": "c1", "type": "tool_call"}
    message = tools["describe_polymer"].invoke(call)
    assert isinstance(message, ToolMessage) and message.tool_call_id == "c1"
    assert json.loads(message.content)["ok"] is False and "JSON object" in message.content
    bad_args = {"name": "describe_polymer", "args": {"polymer": 1.5}, "id": "c2", "type": "tool_call"}
    message = tools["describe_polymer"].invoke(bad_args)
    assert isinstance(message, ToolMessage) and json.loads(message.content)["ok"] is False
    good = {"name": "describe_polymer", "args": {"polymer": "*CC*"}, "id": "c3", "type": "tool_call"}
    assert json.loads(tools["describe_polymer"].invoke(good).content)["ok"]
