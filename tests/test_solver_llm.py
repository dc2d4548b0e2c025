"""LLM backbones on the solver graph: the real SmolLM2 (hf:, grammar-constrained) end to end on a few tasks,
and the openai: backbone against a real `transformers serve` of the same weights on loopback.

Right or wrong does not matter here; what is checked is that every reply was read (a tool call, an answer)
or recorded as malformed, the run ended with an honest outcome, and nothing crashed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from solver_tasks import choice_task, dev_polymer_keys, number_task

from agents.solver.api import build_solver
from agents.solver.backbones import smollm2_dir
from agents.solver.config import SolverConfig

TINY = SolverConfig(max_steps=2, max_tool_calls=1, max_retries=1, max_new_tokens=40, max_seconds=300,
                    tool_menu=["validate_polymer", "describe_polymer", "get_property_values"])  # a short prompt


def replies_accounted_for(trace) -> int:
    """Model replies the trace accounts for: tool steps + malformed outputs + the answer (if any)."""
    return sum(s.tool_call is not None for s in trace.steps) + len(trace.malformed_outputs) + \
        (trace.final_answer is not None or trace.outcome == "refused")


def test_smollm2_runs_the_graph_end_to_end(view, small_kb_config):
    keys = dev_polymer_keys(view, 2)
    solver = build_solver("hf:smollm2", small_kb_config.kb_dir, TINY)
    model = solver.policy.model
    assert model.constrain is not None  # decoding under the reply grammar
    for task in [choice_task(keys[0]), number_task(keys[1])]:
        trace = solver.solve(task)
        assert trace.task_id == task.id and trace.model == "hf:smollm2"
        assert trace.outcome in (None, "budget", "unparseable", "refused", "tool_error")
        assert (trace.final_answer is None) == (trace.outcome is not None)
        tools = solver.toolbox(solver.view_for(task, False)).tools
        assert set(tools) == set(TINY.tool_menu)
        assert all(s.tool_call.name in tools for s in trace.steps if s.tool_call)  # the grammar allows no other
        assert replies_accounted_for(trace) >= 1
        assert trace.seconds and trace.seconds > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_smollm2():
    """`transformers serve` of the SmolLM2 weights on a loopback port (offline); its base URL."""
    pytest.importorskip("fastapi")
    folder = smollm2_dir().resolve()
    port = _free_port()
    cli = Path(sys.executable).with_name("transformers")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([str(cli), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port),
                             "--device", "cpu", "--dtype", "float32"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("transformers serve did not come up within 180 s")
            time.sleep(1)
        yield f"openai:{folder}@http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_openai_backbone_against_a_local_server(view, small_kb_config, served_smollm2):
    key = dev_polymer_keys(view, 1)[0]
    solver = build_solver(served_smollm2, small_kb_config.kb_dir, TINY)
    trace = solver.solve(choice_task(key))
    assert trace.model == served_smollm2
    assert not any(m.startswith("[backbone error]") for m in trace.malformed_outputs)  # the server answered
    assert replies_accounted_for(trace) >= 1
    assert trace.outcome in (None, "budget", "unparseable", "refused", "tool_error")


def test_unreachable_server_is_recorded_not_raised(view, small_kb_config):
    key = dev_polymer_keys(view, 1)[0]
    url = f"http://127.0.0.1:{_free_port()}/v1"   # nothing listens there
    solver = build_solver(f"openai:m@{url}", small_kb_config.kb_dir, TINY.model_copy(update={"max_retries": 0}))
    trace = solver.solve(choice_task(key))
    assert trace.outcome == "unparseable" and trace.final_answer is None
    assert trace.malformed_outputs[0].startswith("[backbone error]")
