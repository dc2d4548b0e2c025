"""Distillation on the small real KB: records and summary, renderings that parse back, and a real run killed
with SIGKILL and resumed (nothing lost, nothing written twice, same records as an uninterrupted run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.answer_text import read_answer
from agents.answers import answers_match
from agents.distill.run import DistillConfig, distill, shard_paths
from agents.files import write_tasks
from agents.schema import Task, Trace
from tests.reasoner_fixtures import small_models, small_tasks

ROOT = Path(__file__).resolve().parents[1]
PER_TEMPLATE = 2  # the first train tasks of every template: ~50 tasks of every category


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for path in shard_paths(out) for line in path.read_text().splitlines() if line.strip()]


def _stable(record: dict) -> dict:
    return {**record, "trace": {k: v for k, v in record["trace"].items() if k != "seconds"}}


def _first_difference(a: object, b: object, path: str = "") -> str | None:
    """Where two JSON values first differ (a readable path and both values), or None when equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            found = _first_difference(a.get(key), b.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := _first_difference(x, y, f"{path}[{i}]"))),
                    None)
    return None if a == b else f"{path}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def setup(small_kb, small_kb_config, tmp_path_factory):
    small_models(small_kb_config.kb_dir)
    _, tasks = small_tasks(small_kb_config.kb_dir)
    seen: dict[str, int] = {}
    sample = []
    for t in tasks:
        if t.split == "train" and seen.get(t.template, 0) < PER_TEMPLATE:
            seen[t.template] = seen.get(t.template, 0) + 1
            sample.append(t)
    path = tmp_path_factory.mktemp("distill_tasks") / "tasks.jsonl"
    write_tasks(path, sample)
    return small_kb_config.kb_dir, path, sample


@pytest.fixture(scope="module")
def plain_run(setup, tmp_path_factory):
    kb, path, _ = setup
    out = tmp_path_factory.mktemp("distill_plain")
    summary = distill(DistillConfig(kb_dir=kb, tasks=path, out=out, split="train", workers=1))
    return out, summary


def test_records_summary_and_renderings(plain_run, setup):
    out, summary = plain_run
    _, _, tasks = setup
    records = _records(out)
    assert [r["task_id"] for r in records] == [t.id for t in tasks] and summary.written == len(tasks) == summary.tasks
    assert json.loads((out / "summary.json").read_text())["kept"] == summary.kept > len(tasks) // 2
    assert len(summary.by_category) == 6 and len(summary.by_template) == 25
    for category in ("structural_understanding", "conceptual_knowledge", "synthesis_design"):
        assert summary.by_category[category].get("rejected", 0) == 0, summary.by_category
    for r in records:
        task, trace = Task.model_validate(r["task"]), Trace.model_validate(r["trace"])
        assert r["kept"] == trace.verified and (r["reject_reason"] is None) == r["kept"]
        if r["kept"]:
            assert trace.outcome == "solved" and trace.model == "reasoner"
            assert trace.tool_calls == sum(s.tool_call is not None for s in trace.steps)
            parsed = read_answer(r["standalone"], task)  # the standalone rendering reads back to a right answer
            expected = trace.final_answer if task.template == "design_polymer" else task.gold  # text: 4 digits
            assert parsed.status == "answered" and answers_match(expected, parsed.answer), (task.id, parsed)
            last = r["tools"][-1]
            assert last["role"] == "assistant" and read_answer(last["content"], task).status == "answered"
            assert sum(turn["role"] == "tool" for turn in r["tools"]) == trace.tool_calls
        if task.category in ("property_prediction", "property_comparison"):
            assert r["hidden_own"]  # the teacher did not see the asked polymers' own values


def test_rerun_of_a_finished_run_writes_nothing(plain_run, setup):
    out, summary = plain_run
    kb, path, _ = setup
    again = distill(DistillConfig(kb_dir=kb, tasks=path, out=out, split="train", workers=1))
    assert again.written == summary.written and again.content_hash == summary.content_hash
    assert again.seconds is None  # nothing was left to do


def test_killed_run_resumes_without_loss_or_duplicates(plain_run, setup, tmp_path):
    kb, path, tasks = setup
    out = tmp_path / "distill"
    cmd = [sys.executable, "-m", "agents.distill", "--split", "train", "--out", str(out), "--tasks", str(path),
           "--kb-dir", str(kb), "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if len(_records(out)) >= 8:  # a few chunks written, the rest in flight
            break
        time.sleep(0.1)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its worker processes, mid-run
    proc.wait(30)
    before = len(_records(out))
    assert 8 <= before < len(tasks)
    resumed = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    records = _records(out)
    ids = [r["task_id"] for r in records]
    assert len(ids) == len(set(ids)) == len(tasks)  # nothing lost, nothing twice
    plain = {r["task_id"]: _stable(r) for r in _records(plain_run[0])}
    resumed_records = {r["task_id"]: _stable(r) for r in records}
    differences = [d for key in sorted(plain) if (d := _first_difference(resumed_records.get(key), plain[key], key))]
    assert not differences, differences  # the same records as an uninterrupted run
