"""Distillation: teacher run -> verification -> keep / reject with reason -> sharded JSONL + summary.json.

For each task of a split the reasoner (through the solver API, agents.solver.api) writes a trace; property
tasks (the categories in HIDE_OWN) are solved with the task's own polymers' measured values hidden
(KBView.for_task), so the reasoning teaches estimation, and the measured value is used only to verify.
agents.solver.verify keeps a trace when the answer matches the gold (a design answer: passes every tool
check) and every number it states has a source. Each line of DIR/traces/shard-NNNNN.jsonl is

    {"task_id", "task": Task, "trace": Trace, "kept": bool, "reject_reason": str | null,
     "standalone": str, "tools": [chat turns after the user prompt]}

(the two renderings of agents.solver.render; empty when the trace has no answer). Workers are processes;
the parent alone appends to the shards (agents.files.ShardWriter: fsynced lines, torn tail cut on reopen),
so after `kill -9` a rerun skips every task already written and redoes only the ones in flight: nothing
lost, nothing written twice. summary.json counts kept / rejected by reason, category and template and
carries a content hash of the records (timings excluded).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents.files import ShardWriter, atomic_write_text, done_keys, iter_records
from agents.schema import Task, Trace

HIDE_OWN = frozenset({"property_prediction", "property_comparison", "advanced_reasoning"})
SHARD_LINES = 5000       # lines per shard file before the next one starts
CHUNK = 8                # tasks per job sent to a worker


class DistillConfig(BaseModel):
    """Settings of one distillation run (built at the CLI edge)."""

    model_config = ConfigDict(extra="forbid")

    kb_dir: Path
    tasks: Path
    out: Path
    split: str = "train"
    limit: int | None = Field(None, ge=1, description="only the first N tasks of the split (file order)")
    workers: int = Field(1, ge=1, le=64)
    templates: list[str] | None = None
    max_steps: int = Field(96, ge=1, description="policy decisions (and tool calls, failed calls) per task")


class Summary(BaseModel):
    """What a run (or the resumed whole) produced."""

    model_config = ConfigDict(extra="forbid")

    split: str
    tasks: int
    written: int
    kept: int
    rejected: int
    by_reason: dict[str, int]
    by_category: dict[str, dict[str, int]]
    by_template: dict[str, dict[str, int]]
    tasks_per_second: float | None = None          # this run: tasks done / wall seconds (start-up included)
    steady_tasks_per_second: float | None = None   # after the first results came back (workers warm)
    seconds: float | None = None
    content_hash: str


def select_tasks(config: DistillConfig) -> list[Task]:
    """The split's tasks in file order (filtered by template, cut at limit)."""
    out = []
    for task in iter_records(config.tasks, Task):
        if task.split != config.split or (config.templates and task.template not in config.templates):
            continue
        out.append(task)
        if config.limit is not None and len(out) >= config.limit:
            break
    return out


# --- worker side -------------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(kb_dir: str, max_steps: int) -> None:
    """Each worker process builds its solver once (tools, connections and surrogate models are per process)."""
    from agents.solver.api import build_solver
    from agents.solver.config import SolverConfig

    _WORKER["kb_dir"] = Path(kb_dir)
    # the teacher expects failed calls (forward synthesis by a class that cannot join the monomers): generous
    config = SolverConfig(max_steps=max_steps, max_tool_calls=max_steps, max_tool_errors=max_steps)
    _WORKER["solver"] = build_solver("reasoner", Path(kb_dir), config)


def distill_one(task: Task, solver: Any, kb_dir: Path) -> dict:
    """One task: teacher trace, verification, renderings; the shard record (a JSON-ready dict)."""
    from agents.solver.render import render_standalone, render_tool_transcript
    from agents.solver.verify import verify_trace
    from agents.taskgen.templates.design import check_design_answer
    from tools.kb_view import KBView

    hide = task.category in HIDE_OWN
    trace: Trace = solver.solve(task, hide_own_values=hide)
    check_view = KBView.for_split(kb_dir, task.split)
    verdict = verify_trace(task, trace, design_check=lambda t, p: check_design_answer(check_view, t, p))
    trace = trace.model_copy(update={"verified": verdict.kept, "outcome": trace.outcome or verdict.outcome,
                                     "verification_note": verdict.reason or trace.verification_note})
    has_answer = trace.final_answer is not None
    return {"task_id": task.id, "task": task.model_dump(mode="json"), "trace": trace.model_dump(mode="json"),
            "kept": verdict.kept, "reject_reason": verdict.reason,
            "standalone": render_standalone(trace) if has_answer else "",
            "tools": render_tool_transcript(trace) if has_answer else [], "hidden_own": hide}


def _work(tasks: list[Task]) -> list[dict]:
    return [distill_one(t, _WORKER["solver"], _WORKER["kb_dir"]) for t in tasks]


# --- parent side -------------------------------------------------------------------------------------------

def shard_paths(out: Path) -> list[Path]:
    return sorted((Path(out) / "traces").glob("shard-*.jsonl"))


def written_keys(out: Path) -> set[str]:
    """Task ids already in the shards (whole lines only); torn tails are cut first."""
    keys: set[str] = set()
    for path in shard_paths(out):
        ShardWriter(path, "task_id").close()  # cuts a line half-written by a killed run
        keys |= done_keys(path, "task_id")
    return keys


class _Shards:
    """Appends records to shard-NNNNN.jsonl files, a new file every SHARD_LINES lines (and per run)."""

    def __init__(self, out: Path) -> None:
        self.folder = Path(out) / "traces"
        self.index = len(shard_paths(out))
        self.lines = 0
        self.writer: ShardWriter | None = None

    def append(self, record: dict) -> None:
        if self.writer is None or self.lines >= SHARD_LINES:
            if self.writer is not None:
                self.writer.close()
            self.writer = ShardWriter(self.folder / f"shard-{self.index:05d}.jsonl", "task_id")
            self.index, self.lines = self.index + 1, 0
        self.writer.append(record)
        self.lines += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _chunks(tasks: list[Task], size: int) -> Iterator[list[Task]]:
    for i in range(0, len(tasks), size):
        yield tasks[i:i + size]


def distill(config: DistillConfig, progress: Callable[[int, int], None] | None = None) -> Summary:
    """Run (or resume) a distillation; returns the summary of everything written (also summary.json)."""
    tasks = select_tasks(config)
    done = written_keys(config.out)
    todo = [t for t in tasks if t.id not in done]
    shards = _Shards(config.out)
    start = time.perf_counter()
    finished = len(tasks) - len(todo)
    warm: list[tuple[float, int]] = []  # (time, finished) when the first results arrived

    def report(n: int) -> None:
        if not warm:
            warm.append((time.perf_counter(), n))
        if progress:
            progress(n, len(tasks))

    if progress:
        progress(finished, len(tasks))
    try:
        if config.workers == 1:
            _init_worker(str(config.kb_dir), config.max_steps)
            for chunk in _chunks(todo, CHUNK):
                for record in _work(chunk):
                    shards.append(record)
                finished += len(chunk)
                report(finished)
        else:
            with ProcessPoolExecutor(config.workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_init_worker,
                                     initargs=(str(config.kb_dir), config.max_steps)) as pool:
                pending = set()
                chunks = _chunks(todo, CHUNK)
                for chunk in chunks:  # keep a few jobs per worker in flight, not the whole list
                    pending.add(pool.submit(_work, chunk))
                    if len(pending) >= 3 * config.workers:
                        break
                while pending:
                    ready, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in ready:
                        records = future.result()
                        for record in records:
                            shards.append(record)
                        finished += len(records)
                        report(finished)
                        nxt = next(chunks, None)
                        if nxt is not None:
                            pending.add(pool.submit(_work, nxt))
    finally:
        shards.close()
    seconds = time.perf_counter() - start
    summary = summarize(config.out, config.split, len(tasks))
    if todo:
        summary.seconds = round(seconds, 2)
        summary.tasks_per_second = round(len(todo) / seconds, 2) if seconds > 0 else None
        t_warm, n_warm = warm[0]
        steady = time.perf_counter() - t_warm
        if finished > n_warm and steady > 0:
            summary.steady_tasks_per_second = round((finished - n_warm) / steady, 2)
    atomic_write_text(Path(config.out) / "summary.json", summary.model_dump_json(indent=1))
    return summary


def reason_kind(reason: str | None) -> str:
    """A reject reason without its particulars: 'fabricated number: 987.6' -> 'fabricated number'."""
    return (reason or "rejected").split(":")[0].split(" (")[0].strip()


def summarize(out: Path, split: str, n_tasks: int) -> Summary:
    """Counts and content hash of every record in the shards."""
    by_reason: Counter = Counter()
    by_category: dict[str, Counter] = defaultdict(Counter)
    by_template: dict[str, Counter] = defaultdict(Counter)
    digests = []
    for path in shard_paths(out):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            reason = "kept" if record["kept"] else reason_kind(record["reject_reason"])
            by_reason[reason] += 1
            status = "kept" if record["kept"] else "rejected"
            by_category[record["task"]["category"]][status] += 1
            by_template[record["task"]["template"]][status] += 1
            stable = {**record, "trace": {k: v for k, v in record["trace"].items() if k != "seconds"}}
            digests.append(hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest())
    kept = by_reason.get("kept", 0)
    written = sum(by_reason.values())
    return Summary(split=split, tasks=n_tasks, written=written, kept=kept, rejected=written - kept,
                   by_reason=dict(by_reason), by_category={k: dict(v) for k, v in sorted(by_category.items())},
                   by_template={k: dict(v) for k, v in sorted(by_template.items())},
                   content_hash=hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()[:16])
