"""The solver graph driven by a scripted chat model over the small real KB: tool errors, malformed outputs,
every budget, verification and checkpoint resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import StructuredTool
from solver_tasks import choice_task, dev_polymer_keys

from agents.schema import Answer, PolymerRef, Task, TaskParams
from agents.solver.api import build_solver
from agents.solver.config import SolverConfig
from agents.solver.fake import ScriptedChatModel


@pytest.fixture(scope="module")
def polymer_key(view) -> str:
    return dev_polymer_keys(view, 1)[0]


@pytest.fixture(scope="module")
def task(polymer_key) -> Task:
    return choice_task(polymer_key)


def call(name: str, **args) -> str:
    return "Let me check.\nTool call: " + json.dumps({"name": name, "args": args})


def solver_for(kb_dir, script, **config):
    model = ScriptedChatModel(script=script, delay_s=config.pop("delay_s", 0.0))
    return build_solver("fake", kb_dir, SolverConfig(**config), chat_model=model), model


def test_tool_call_then_answer_is_verified(small_kb_config, task, polymer_key):
    solver, model = solver_for(small_kb_config.kb_dir, [call("validate_polymer", polymer=polymer_key), "B it is.\nAnswer: B"])
    trace = solver.solve(task)
    assert trace.final_answer == Answer(type="choice", choice="B")
    assert (trace.outcome, trace.verified, trace.tool_calls, trace.tool_errors) == (None, True, 1, 0)
    assert trace.steps[0].tool_ok is True and trace.steps[0].skill == "parse-structure"
    assert '"valid":true' in trace.steps[0].observation and trace.steps[0].source
    assert model.seen[1][-1].content == trace.steps[0].observation  # the observation went back to the model


def test_tool_failures_are_observations(small_kb_config, task, polymer_key):
    script = [call("validate_polymer", smiles=polymer_key),          # wrong argument name: ok=false
              call("no_such_tool", x=1),                             # unknown tool
              call("explode", text="x"),                             # a tool that raises
              AIMessage(content="", tool_calls=[{"name": "validate_polymer", "args": {"polymer": polymer_key},
                                                 "id": "c1"}]),      # a native tool call
              "Answer: B"]
    solver, model = solver_for(small_kb_config.kb_dir, script)

    def explode(text: str) -> str:
        raise RuntimeError("disk on fire")

    solver.toolbox(solver.view_for(task, False)).tools["explode"] = StructuredTool.from_function(
        explode, name="explode", description="Raises.")
    trace = solver.solve(task)
    assert (trace.tool_calls, trace.tool_errors) == (4, 3)
    assert [s.tool_ok for s in trace.steps[:4]] == [False, False, False, True]
    assert "unknown argument 'smiles'" in trace.steps[0].observation
    assert "unknown tool 'no_such_tool'" in trace.steps[1].observation
    assert "RuntimeError: disk on fire" in trace.steps[2].observation
    assert "RuntimeError" in model.seen[3][-1].content  # the model read the error
    assert trace.final_answer.choice == "B" and trace.outcome is None


def test_too_many_tool_errors_end_as_tool_error(small_kb_config, task):
    solver, _ = solver_for(small_kb_config.kb_dir, [call("nope")] * 5, max_tool_errors=2)
    trace = solver.solve(task)
    assert (trace.outcome, trace.final_answer, trace.tool_errors) == ("tool_error", None, 2)


def test_malformed_outputs_are_kept_and_reasked(small_kb_config, task):
    script = ["I think B.", "Tool call: {not json}", "Answer: Z", "Answer: B"]
    solver, model = solver_for(small_kb_config.kb_dir, script, max_retries=3)
    trace = solver.solve(task)
    assert trace.malformed_outputs == script[:3]
    assert trace.final_answer.choice == "B"
    assert "neither a 'Tool call:' line nor an 'Answer:' line" in model.seen[1][-1].content
    assert "not one of the options" in model.seen[3][-1].content


def test_malformed_beyond_retries_is_unparseable(small_kb_config, task):
    solver, _ = solver_for(small_kb_config.kb_dir, ["no idea", "still nothing", "Answer: B"], max_retries=1)
    trace = solver.solve(task)
    assert (trace.outcome, trace.final_answer, len(trace.malformed_outputs)) == ("unparseable", None, 2)


def test_refusal(small_kb_config, task):
    trace = solver_for(small_kb_config.kb_dir, ["Answer: I don't know"])[0].solve(task)
    assert (trace.outcome, trace.final_answer) == ("refused", None)


@pytest.mark.parametrize("budget, note", [({"max_steps": 3}, "step budget"),
                                          ({"max_tool_calls": 2}, "tool-call budget"),
                                          ({"max_seconds": 0.25, "delay_s": 0.1}, "time budget")])
def test_budgets_end_in_an_honest_no_answer(small_kb_config, task, polymer_key, budget, note):
    solver, _ = solver_for(small_kb_config.kb_dir, [call("validate_polymer", polymer=polymer_key)] * 20 + ["Answer: B"],
                           **budget)
    trace = solver.solve(task)
    assert (trace.outcome, trace.final_answer, trace.verified) == ("budget", None, False)
    assert note in trace.verification_note
    assert trace.tool_calls <= budget.get("max_tool_calls", 20)
    assert len(trace.steps) <= budget.get("max_steps", 20)


def test_failed_verification_is_revised(small_kb_config, polymer_key):
    design = Task(id="t-design-1", split="dev", category="synthesis_design", template="hand_written", difficulty=1,
                  question="Propose a polyester.", answer_type="polymer", gold=Answer(type="polymer", polymer="*CC(*)C"),
                  constraints=[{"type": "polymer_class", "value": "polyester"}], params=TaskParams(asked="design"),
                  generator="test", generator_version="0")
    solver, model = solver_for(small_kb_config.kb_dir, ["Answer: *C1CC1", "Answer: *CC(*)c1ccccc1",
                                                        "Answer: *OC(=O)CCC(=O)OCC*"], max_retries=2)
    trace = solver.solve(design)
    assert "not a valid linear repeat unit" in model.seen[1][-1].content
    assert "not polyester" in model.seen[2][-1].content
    assert trace.final_answer.polymer == "*OC(=O)CCC(=O)OCC*" and trace.verified


class Killed(BaseException):
    """Stands for the process dying in the middle of a node."""


def test_checkpoint_resumes_a_killed_solve(small_kb_config, task, polymer_key, tmp_path):
    db = tmp_path / "ckpt.sqlite"
    script = [call("validate_polymer", polymer=polymer_key), call("die"), "Answer: B"]
    first, _ = solver_for(small_kb_config.kb_dir, script, checkpoint_db=db)
    deaths = []

    def die() -> str:
        if not deaths:
            deaths.append(1)
            raise Killed()
        return '{"ok":true,"tool":"die","data":"survived"}'

    tool = StructuredTool.from_function(die, name="die", description="Dies once.")
    first.toolbox(first.view_for(task, False)).tools["die"] = tool
    with pytest.raises(Killed):
        first.solve(task)
    first.close()
    second, model = solver_for(small_kb_config.kb_dir, script, checkpoint_db=db)
    second.toolbox(second.view_for(task, False)).tools["die"] = tool
    trace = second.solve(task)
    assert model.calls == 1  # only the answer was asked for: the two tool decisions came from the checkpoint
    assert [s.tool_call.name for s in trace.steps if s.tool_call] == ["validate_polymer", "die"]
    assert trace.final_answer.choice == "B" and trace.tool_calls == 2
    third, model = solver_for(small_kb_config.kb_dir, script, checkpoint_db=db)
    assert third.solve(task) == trace and model.calls == 0  # a finished thread returns its trace
    other = build_solver("another-model", small_kb_config.kb_dir, SolverConfig(checkpoint_db=db),
                         chat_model=ScriptedChatModel(script=["Answer: C"]))
    assert other.solve(task).final_answer.choice == "C"    # ... to the model that wrote it, not to another


def test_hide_own_values_hides_the_asked_polymers_values(small_kb_config, view):
    con = view.connect()
    key = con.execute("SELECT p.key FROM polymers p JOIN property_summary s USING (polymer_id) WHERE p.split = 'train' "
                      "AND s.property = 'tg' ORDER BY p.polymer_id LIMIT 1").fetchone()[0]
    con.close()
    task = Task(id="t-tg-1", split="train", category="property_prediction", template="hand_written", difficulty=1,
                question=f"What is the Tg of {key}?", answer_type="number", gold=Answer(type="number", number=1.0, unit="K"),
                params=TaskParams(polymers=[PolymerRef(label="polymer", psmiles=key)], property="tg", unit="K"),
                generator="test", generator_version="0")
    script = [call("get_property_values", polymer=key, property="tg"), "Answer: 400 K"]
    seen = solver_for(small_kb_config.kb_dir, script)[0].solve(task).steps[0].observation
    hidden = solver_for(small_kb_config.kb_dir, script)[0].solve(task, hide_own_values=True).steps[0].observation
    assert json.loads(seen)["data"]["n_values"] > 0
    data = json.loads(hidden).get("data") or {}
    assert not data.get("n_values")


def test_a_number_outside_the_plausible_range_is_sent_back(small_kb_config, polymer_key):
    task = Task(id="t-tg-2", split="dev", category="property_prediction", template="hand_written", difficulty=1,
                question=f"What is the Tg of {polymer_key}?", answer_type="number",
                gold=Answer(type="number", number=1.0, unit="K"),
                params=TaskParams(polymers=[PolymerRef(label="polymer", psmiles=polymer_key)], property="tg", unit="K"),
                generator="test", generator_version="0")
    solver, model = solver_for(small_kb_config.kb_dir, ["Answer: 5000 K", "Answer: 3 eV", "Answer: 120 degC"])
    trace = solver.solve(task)
    assert "outside the plausible range of tg" in model.seen[1][-1].content
    assert "cannot be converted" in model.seen[2][-1].content
    assert trace.final_answer == Answer(type="number", number=120.0, unit="degC") and trace.verified


CHILD = """
import sys
from pathlib import Path
from agents.solver.api import build_solver
from agents.solver.config import SolverConfig
from agents.solver.fake import ScriptedChatModel
from solver_tasks import choice_task
kb, db, key, script = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4:]
model = ScriptedChatModel(script=script, delay_s=1.0)
build_solver("fake", kb, SolverConfig(checkpoint_db=db), chat_model=model).solve(choice_task(key))
"""


def test_a_solve_killed_with_sigkill_resumes(small_kb_config, task, polymer_key, tmp_path):
    db = tmp_path / "ckpt.sqlite"
    script = [call("validate_polymer", polymer=polymer_key)] * 4 + ["Answer: B"]
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'tests'}"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(small_kb_config.kb_dir), str(db), polymer_key, *script],
                             cwd=root, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    try:
        while _checkpoints(db, task.id) < 9:  # two tool calls done and saved
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the child made no progress"
            time.sleep(0.2)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    solver, model = solver_for(small_kb_config.kb_dir, script, checkpoint_db=db)
    trace = solver.solve(task)
    assert trace.final_answer.choice == "B" and trace.tool_calls == 4
    assert model.calls <= 3  # the replies before the kill came from the checkpoint, not from the model again


def _checkpoints(db: Path, thread: str) -> int:
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(db, timeout=1)) as con:
            return con.execute("SELECT count(*) FROM checkpoints WHERE thread_id = ?", [thread]).fetchone()[0]
    except sqlite3.OperationalError:  # the table is created by the child's first write
        return 0


def test_a_failing_model_is_recorded_with_its_error_type(small_kb_config, task):
    trace = solver_for(small_kb_config.kb_dir, ["no idea"], max_retries=1)[0].solve(task)  # the 2nd call raises
    assert (trace.outcome, trace.final_answer) == ("unparseable", None)
    assert trace.malformed_outputs[0] == "no idea"
    assert trace.malformed_outputs[1].startswith("[backbone error] IndexError: the script has 1 replies")
