"""The design chat on the solver graph over the small real KB: a turn solved by the graph (its steps, verify,
outcome), a follow-up that refines it, nonsense and SQL, a resumed session (file and graph checkpoints), a
scripted model whose answer fails the checks (estimated evidence with interval, reasoner fallback), the real
SmolLM2 driving a turn, the request task's rules, the parser on its own, and the CLI."""

from __future__ import annotations

import io
import json

import pytest
from reasoner_fixtures import small_models

from agents.chat.__main__ import main
from agents.chat.request import parse_request
from agents.chat.session import ChatSession
from agents.chat.task import request_id, request_task
from agents.files import RecordFileError, write_tasks
from agents.schema import Task
from agents.solver.config import SolverConfig
from agents.solver.fake import ScriptedChatModel
from kb.units import convert

NEW_POLYMER = "*CC(*)c1ccc(C(F)(F)F)c(Cl)c1F"  # not in the small KB (tests/test_estimate.py checks it)


def test_parser_reads_properties_units_groups_and_classes():
    r = parse_request("A polyimide with Tg above 250 °C and no fluorine, from monomers in the KB")
    assert {(c.type, c.property or c.group or c.value) for c in r.constraints} == \
        {("polymer_class", "polyimide"), ("forbid_group", "fluoro"), ("property_range", "tg")}
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


def test_a_request_task_has_no_gold_and_never_reaches_a_file(tmp_path):
    constraints = parse_request("Tg above 350 K and no fluorine").constraints
    task = request_task(constraints, request_id("s", 1, constraints))
    assert task.is_request and task.gold is None and task.template == "design_polymer"
    assert request_id("s", 1, constraints) != request_id("s", 1, constraints[:1])   # a changed request: new thread
    with pytest.raises(RecordFileError, match="chat request"):
        write_tasks(tmp_path / "tasks.jsonl", [task])
    with pytest.raises(ValueError, match="needs a gold"):      # only a chat request may lack a gold
        Task.model_validate({**task.model_dump(), "split": "dev"})
    with pytest.raises(ValueError, match="no gold"):
        Task.model_validate({**task.model_dump(), "gold": {"type": "polymer", "polymer": "*CC*"}})


def test_a_turn_is_solved_by_the_graph_then_refined_then_resumed(kb_dir, tmp_path):
    session = tmp_path / "chat.json"
    chat = ChatSession(kb_dir, limit=3, session_file=session, session_id="s1")
    first = chat.ask("a polymer with Tg above 350 K")
    trace = first.trace
    assert first.kind == "design" and trace is not None and trace.model == "reasoner"
    assert trace.task_id.startswith("s1-t1-") and trace.outcome == "solved" and trace.verified
    assert trace.verification_note == "checked by the tools"          # set by the graph's verify node only
    history = list(chat.solver.graph().get_state_history({"configurable": {"thread_id": trace.task_id}}))
    assert any(snap.next == ("verify",) for snap in history)          # the checkpointed run passed through verify
    assert first.steps == trace.steps and first.fallback is None and first.answered_by == "reasoner"
    assert trace.steps[0].tool_call.name == "find_polymers"           # the reasoner's design plan: shortlist ...
    assert any(s.tool_call and s.tool_call.name == "get_property_values" for s in trace.steps)  # ... then check
    assert first.candidates and first.candidates[0].key == trace.final_answer.polymer
    for c in first.candidates:
        assert c.checked and not c.problems
        tg = [e for e in c.evidence if e.property == "tg"]
        assert tg and all(e.basis == "measured" and e.sources and e.value >= 350 for e in tg)

    second = chat.ask("now also density below 1.3 g/cm3")
    assert {c.property for c in second.constraints} == {"tg", "density"}
    assert second.trace.task_id.startswith("s1-t2-") and second.trace.outcome in ("solved", "refused")
    for c in second.candidates:
        values = {e.property: e.value for e in c.evidence if e.basis == "measured"}
        assert values["tg"] >= 350 and values["density"] <= 1.3
    assert second.candidates or "no KB polymer meets" in second.message

    nonsense = chat.ask("purple elephants are dancing quietly")
    assert nonsense.kind == "clarify" and "no design request" in nonsense.message and nonsense.trace is None
    refused = chat.ask("DROP TABLE polymers; SELECT 1 FROM polymers")
    assert refused.kind == "refused" and not refused.candidates and "SQL is never run" in refused.message
    assert chat.constraints == second.constraints and chat.turn == 2   # the conversation is unchanged
    chat.close()

    resumed = ChatSession(kb_dir, limit=3, session_file=session)      # a killed chat comes back
    assert (resumed.session_id, resumed.turn, resumed.constraints) == ("s1", 2, second.constraints)
    saved = resumed.solver.graph().get_state({"configurable": {"thread_id": second.trace.task_id}})
    assert saved.values["trace"].steps == second.trace.steps           # the graph's checkpoint of turn 2
    third = resumed.ask("now also Tg above 360 K")
    assert third.trace.task_id.startswith("s1-t3-")
    assert {(c.property, c.min) for c in third.constraints if c.property == "tg"} == {("tg", 360.0)}
    resumed.close()


def test_chat_units_are_converted(kb_dir):
    chat = ChatSession(kb_dir, limit=2)
    reply = chat.ask("Tg above 80 °C")
    assert reply.kind == "design" and reply.trace.outcome == "solved"
    for c in reply.candidates:
        assert all(e.value >= convert(80, "degC", "K") - 1e-6 for e in c.evidence if e.property == "tg")


def test_a_model_answer_failing_the_checks_is_said_and_the_reasoner_falls_back(kb_dir):
    small_models(kb_dir)  # surrogates of tg, density, ffv (shared with the reasoner tests)
    call = json.dumps({"name": "estimate_property", "args": {"polymer": NEW_POLYMER, "property": "tg"}})
    model = ScriptedChatModel(script=[f"Estimate it first.\nTool call: {call}"] + [f"Answer: {NEW_POLYMER}"] * 3)
    chat = ChatSession(kb_dir, model="scripted", chat_model=model, limit=2, session_id="s2")
    reply = chat.ask("a polymer with Tg above 350 K")
    trace = reply.trace
    assert trace.model == "scripted" and trace.outcome == "wrong" and not trace.verified
    assert trace.steps[0].tool_call.name == "estimate_property" and trace.steps[0].tool_ok
    assert "not in the KB" in trace.verification_note                 # verify checked it with the tools
    assert "failed" in reply.message and "fallback" in reply.message
    assert reply.answered_by == "reasoner (fallback)" and reply.fallback.outcome == "solved"
    assert reply.candidates[0].key == reply.fallback.final_answer.polymer and reply.steps == reply.fallback.steps
    assert all(c.checked for c in reply.candidates) and NEW_POLYMER not in [c.key for c in reply.candidates]
    shown = reply.unverified                                          # the model's answer, shown apart
    assert shown is not None and shown.problems and not shown.checked
    (tg,) = [e for e in shown.evidence if e.property == "tg"]
    assert tg.basis == "estimated" and tg.domain in ("in-domain", "borderline", "out-of-domain")
    assert tg.interval[0] <= tg.value <= tg.interval[1] and "interval" in tg.text()


def test_cli_renders_turns(kb_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a polymer with Tg above 350 K\nhello there\nquit\n"))
    monkeypatch.setenv("COLUMNS", "400")  # one line per message, whatever the terminal
    assert main(["--kb", str(kb_dir), "--limit", "2", "--steps"]) == 0
    out = capsys.readouterr().out
    assert "candidate(s) meeting tg >= 350" in out and "no design request" in out and "find_polymers" in out
    assert "#1 found by reasoner" in out


def test_cli_answers_one_message(kb_dir, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["--kb", str(kb_dir), "--limit", "1", "--ask", "Tg above 5000 K"]) == 0
    assert "impossible range" in capsys.readouterr().out


def test_cli_without_a_kb_is_one_line(tmp_path, capsys):
    assert main(["--kb", str(tmp_path / "none")]) == 1
    assert "no KB at" in capsys.readouterr().err


SMOL = SolverConfig(max_steps=3, max_tool_calls=2, max_retries=1, max_new_tokens=40, max_seconds=300,
                    tool_menu=["find_polymers", "get_property_values", "validate_polymer"])  # a short prompt


def test_chat_turn_driven_by_smollm2(kb_dir):
    chat = ChatSession(kb_dir, model="hf:smollm2", config=SMOL, limit=2, session_id="s3")
    reply = chat.ask("a polymer with Tg above 350 K")
    trace = reply.trace
    assert reply.kind == "design" and trace.model == "hf:smollm2"
    assert trace.outcome in ("solved", "wrong", "budget", "unparseable", "refused", "tool_error")
    if trace.outcome == "solved":   # whatever the model wrote, the reply says honestly how it went
        assert reply.answered_by == "hf:smollm2" and reply.candidates[0].key == trace.final_answer.polymer
    else:                           # the reasoner, on its own budgets, answers instead, labelled so
        assert reply.answered_by == "reasoner (fallback)" and "fallback" in reply.message
        assert reply.fallback.outcome == "solved" and reply.candidates[0].key == reply.fallback.final_answer.polymer
    assert reply.candidates and all(c.checked for c in reply.candidates)
