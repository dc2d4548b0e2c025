"""The LangChain-exposed tools: typed, described, and errors as ToolResult(ok=False) for the model."""

import json

import pytest

from tools.kb_view import KBView
from tools.langchain_tools import build_tools


@pytest.fixture(scope="module")
def tools(small_kb, small_kb_config):
    return {t.name: t for t in build_tools(KBView.for_split(small_kb_config.kb_dir, "test"))}


def test_every_tool_has_a_schema_and_a_description(tools):
    assert {"describe_polymer", "get_property_values", "find_polymers", "similar_polymers", "text_search",
            "forward_synthesis", "retro_synthesis", "sql", "validate_polymer"} <= set(tools)
    for tool in tools.values():
        assert len(tool.description) > 40, tool.name
        assert tool.args_schema.model_json_schema()["properties"], tool.name


def test_good_call_returns_ok_with_provenance(tools):
    out = json.loads(tools["describe_polymer"].invoke({"polymer": "*CCOC(=O)c1ccc(cc1)C(=O)O*"}))
    assert out["ok"] and out["data"]["features"]["formula"] == "C10H8O4"
    assert out["provenance"]["kb_version"]


@pytest.mark.parametrize(("name", "args", "needle"), [
    ("describe_polymer", {"polymer": "*CC(*"}, "parse"),
    ("get_property_values", {"polymer": "*CC(*)c1ccccc1", "property": "glass_temp"}, "unknown property"),
    ("sql", {"sql": "SELECT * FROM read_csv('/etc/passwd')"}, "refused"),
    ("forward_synthesis", {"monomers": ["OCCO"], "polymer_class": "polykevlar"}, "class"),
])
def test_bad_input_becomes_a_message_for_the_model(tools, name, args, needle):
    out = json.loads(tools[name].invoke(args))
    assert out["ok"] is False and needle in out["error"].lower()


def test_sql_tool_respects_the_hidden_split(tools):
    out = json.loads(tools["sql"].invoke({"sql": "SELECT count(*) FROM measurements m JOIN polymers p "
                                                 "USING (polymer_id) WHERE p.split = 'test'"}))
    assert out["ok"] and out["data"]["rows"] == [[0]]
