"""The design chat over the small real KB: a request, a follow-up that refines it, nonsense, SQL, an unknown
property and an impossible range; the request parser on its own; the CLI; resume from the session file."""

from __future__ import annotations

import io

import pytest

from agents.chat.__main__ import main
from agents.chat.request import parse_request
from agents.chat.session import ChatSession
from agents.solver.backbones import parse_spec
from agents.solver.chat_models import chat_model_for
from agents.solver.config import SolverConfig
from agents.solver.fake import ScriptedChatModel
from kb.units import convert


def test_parser_reads_properties_units_groups_and_classes():
    r = parse_request("A polyimide with Tg above 250 °C and no fluorine, from monomers in the KB")
    assert {(c.type, c.property or c.group or c.value) for c in r.constraints} == \
        {("polymer_class", "polyimide"), ("forbid_group", "fluorine"), ("property_range", "tg")}
    tg = next(c for c in r.constraints if c.type == "property_range")
    assert (tg.min, tg.max, tg.unit) == (250.0, None, "degC") and r.usable and not r.follow_up
    r = parse_request("now also density between 1.1 and 1.3 g/cm3")
    assert r.follow_up and [(c.property, c.min, c.max) for c in r.constraints] == [("density", 1.1, 1.3)]
    assert parse_request("containing ester groups").constraints[0].group == "ester"


@pytest.mark.parametrize("text, says", [
    ("SELECT * FROM polymers", "SQL is never run"),
    ("a polymer with wibbleness above 5", "'wibbleness' is not in the KB's registry"),
    ("Tg above 5000 K", "impossible range"),
    ("Tg between 300 and 200 K", "lower bound is above the upper bound"),
    ("density below 1.3 K", "density"),
    ("no unobtainium", "'unobtainium' is not one the KB knows"),
])
def test_parser_says_what_it_did_not_understand(text, says):
    r = parse_request(text)
    assert not r.usable and says in " ".join(r.not_understood)


@pytest.fixture(scope="module")
def kb_dir(small_kb, small_kb_config):
    return small_kb_config.kb_dir


def test_chat_with_a_follow_up_and_a_nonsense_turn(kb_dir, tmp_path):
    chat = ChatSession(kb_dir, limit=3, session_file=tmp_path / "chat.json")
    first = chat.ask("a polymer with Tg above 350 K")
    assert first.kind == "design" and first.candidates
    for c in first.candidates:
        assert c.checked and not c.problems
        tg = [e for e in c.evidence if e.property == "tg"]
        assert tg and all(e.basis == "measured" and e.sources and e.value >= 350 for e in tg)
    assert first.steps[0].tool_call.name == "find_polymers" and first.steps[0].tool_ok

    second = chat.ask("now also density below 1.3 g/cm3")
    assert {c.property for c in second.constraints} == {"tg", "density"}
    for c in second.candidates:
        values = {e.property: e.value for e in c.evidence}
        assert values["tg"] >= 350 and values["density"] <= 1.3
    assert second.candidates or "no KB polymer meets" in second.message

    nonsense = chat.ask("purple elephants are dancing quietly")
    assert nonsense.kind == "clarify" and "no design request" in nonsense.message
    assert nonsense.constraints == second.constraints  # the conversation is unchanged
    refused = chat.ask("DROP TABLE polymers; SELECT 1 FROM polymers")
    assert refused.kind == "refused" and not refused.candidates

    resumed = ChatSession(kb_dir, limit=3, session_file=tmp_path / "chat.json")   # a killed chat comes back
    assert resumed.constraints == second.constraints


def test_chat_units_are_converted(kb_dir):
    chat = ChatSession(kb_dir, limit=2)
    reply = chat.ask("Tg above 80 °C")
    assert reply.kind == "design"
    for c in reply.candidates:
        assert all(e.value >= convert(80, "degC", "K") - 1e-6 for e in c.evidence if e.property == "tg")


def test_cli_renders_turns(kb_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a polymer with Tg above 350 K\nhello there\nquit\n"))
    monkeypatch.setenv("COLUMNS", "400")  # one line per message, whatever the terminal
    assert main(["--kb", str(kb_dir), "--limit", "2", "--steps"]) == 0
    out = capsys.readouterr().out
    assert "candidate(s) meeting tg >= 350" in out and "no design request" in out and "find_polymers" in out


def test_cli_without_a_kb_is_one_line(tmp_path, capsys):
    assert main(["--kb", str(tmp_path / "none")]) == 1
    assert "no KB at" in capsys.readouterr().err


def test_a_language_model_comments_on_checked_candidates_only(kb_dir):
    model = ScriptedChatModel(script=["Pick the first one."] * 3)
    chat = ChatSession(kb_dir, limit=2, model=model)
    reply = chat.ask("a polymer with Tg above 350 K")
    assert reply.model_note == "Pick the first one." and reply.candidates
    prompt = model.seen[0][-1].content
    assert all(c.key in prompt for c in reply.candidates)   # the model sees the checked candidates and nothing else
    assert chat.ask("gibberish words").model_note is None   # no candidates, no comment


def test_chat_offline_with_smollm2(kb_dir):
    model = chat_model_for(parse_spec("hf:smollm2"), SolverConfig(max_new_tokens=16, constrained=False))
    reply = ChatSession(kb_dir, limit=2, model=model).ask("a polymer with Tg above 350 K")
    assert reply.kind == "design" and reply.candidates and isinstance(reply.model_note, str)
