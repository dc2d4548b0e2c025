"""Jobs killed with SIGKILL leave no processes and no stray folders behind; the next run cleans up and
finishes. Real kills of real `python -m kb.build` and `python -m agents.taskgen --jobs 2` runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.build import build_kb
from kb.config import KBPaths

ROOT = Path(__file__).resolve().parents[1]


def _live_processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every live process (zombies count as gone)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            out.append((int(stat.parent.name), int(fields[1]), int(fields[2])))
    return out


def _group(pgid: int) -> list[int]:
    return [pid for pid, _, group in _live_processes() if group == pgid]


def _children(parent: int) -> list[int]:
    return [pid for pid, ppid, _ in _live_processes() if ppid == parent]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def kill_when_workers_run(args: list[str], n_workers: int = 2, wait_s: float = 300) -> list[int]:
    """Start a CLI in its own process group, SIGKILL it once it has n_workers worker processes, and
    return the processes of its group still alive 30 s later."""
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and proc.poll() is None:
            workers = [p for p in _children(proc.pid) if b"spawn_main" in _cmdline(p)]
            if len(workers) >= n_workers:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the job ended before it started its workers"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while _group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        return _group(proc.pid)
    finally:
        for pid in _group(proc.pid):  # only processes of the group this test started
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_build_leaves_no_workers_and_the_next_build_finishes(data_dir, tmp_path):
    kb_dir = tmp_path / "kb"
    args = ["kb.build", "--kb-dir", str(kb_dir), "--data-dir", str(data_dir), "--max-rows", "60", "--jobs", "2",
            "--no-text-index"]
    assert kill_when_workers_run(args) == []
    assert subprocess.run([sys.executable, "-m", *args], check=False, cwd=ROOT, capture_output=True,
                          timeout=900).returncode == 0
    assert sorted(p.name for p in kb_dir.iterdir()) == ["cache", "current"]
    assert not list(kb_dir.rglob("*.tmp*"))


def test_a_build_killed_during_the_swap_is_repaired(small_kb, small_kb_config):
    paths = KBPaths(small_kb_config.kb_dir)
    paths.current.rename(paths.root / "old")  # killed after current -> old, before staging -> current
    paths.staging.mkdir()
    again = build_kb(small_kb_config)
    assert again.up_to_date and paths.db.exists()
    assert not (paths.root / "old").exists() and not paths.staging.exists()
    (paths.root / "old").mkdir()  # killed after staging -> current, before old/ was removed
    assert build_kb(small_kb_config).up_to_date and not (paths.root / "old").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_taskgen_leaves_no_workers_and_the_next_run_resumes(small_kb, small_kb_config, tmp_path):
    out = tmp_path / "tasks"
    args = ["agents.taskgen", "--kb-dir", str(small_kb_config.kb_dir), "--out", str(out), "--scale", "0.002",
            "--jobs", "2"]
    assert kill_when_workers_run(args) == []
    done = subprocess.run([sys.executable, "-m", *args], check=False, cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    assert {"tasks.jsonl", "tasks.parquet", "counts.json", "hf", "jobs"} == {p.name for p in out.iterdir()}
    assert not list(out.rglob(".*.tmp"))

