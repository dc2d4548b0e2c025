"""One eval run, resumable: select tasks, ask every cell (shards), then score into the report files.

    result = run_eval(config, progress=lambda cell, done, total: ...)

Predictions go to `<out>/shards/<cell>.jsonl` through agents.files.ShardWriter, one durable line per
prompt, so a run killed at any point (kill -9) resumes without asking a finished prompt again. The report
(predictions.jsonl, metrics.json, report.md, plots) is rebuilt from all shards at the end of every run.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.files import ShardWriter, atomic_write_text, iter_records, read_tasks
from agents.schema import Task
from agents.solver.prompts import PROMPT_VERSION
from agents.taskgen.writer import task_set_hash
from eval.config import CellPlan, EvalConfig, plan_cells
from eval.design import DesignJudge
from eval.external import load_benchmark
from eval.metrics import all_metrics
from eval.produce import SolverUnavailable, run_baseline, run_standalone, run_tools
from eval.records import Prediction
from eval.report import write_report
from eval.selection import select_tasks, stratified_sample, sub_question_tasks
from kb.errors import PolyBenchError

log = logging.getLogger(__name__)
CellProgress = Callable[[str, int, int], None]


class EvalInputError(PolyBenchError, ValueError):
    """Missing or unusable inputs of an eval run (tasks file, KB); the message says which and why."""


@dataclass
class RunResult:
    out: Path
    predictions: int
    skipped: dict[str, str] = field(default_factory=dict)   # cell -> why it was not asked


def _slug(name: str) -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")[:60]
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def load_inputs(config: EvalConfig) -> tuple[list[Task], list[Task]]:
    """(main tasks to ask, train tasks for baselines): the PolyBench sample and any external benchmarks."""
    main: list[Task] = []
    train: list[Task] = []
    if config.polybench:
        if not config.tasks_file.exists():
            if not config.benchmarks:
                raise EvalInputError(f"tasks file {config.tasks_file} not found (python -m agents.taskgen writes it)")
            log.warning("no PolyBench tasks at %s: only the external benchmarks are run", config.tasks_file)
        else:
            every = read_tasks(config.tasks_file)
            train = [t for t in every if t.split == "train"]
            chosen = select_tasks(every, split=config.split, categories=config.categories, templates=config.templates)
            if not chosen:
                raise EvalInputError(f"no {config.split} tasks in {config.tasks_file} match the categories/templates")
            main += stratified_sample(chosen, config.limit, config.seed)
    for path in config.benchmarks:
        main += stratified_sample(load_benchmark(path), config.limit, config.seed)
    return main, train


def _tasks_for(plan: CellPlan, main: list[Task], config: EvalConfig) -> list[Task]:
    """The tasks a cell asks: its share of each benchmark's sample, plus (standalone) sub-questions on their
    own for the first `sub_question_limit` tasks of that share."""
    by_bench: dict[str, list[Task]] = {}
    for t in main:
        by_bench.setdefault(t.generator if t.generator.startswith("external:") else "", []).append(t)
    shares = [stratified_sample(ts, plan.limit, config.seed) if plan.limit else ts for ts in by_bench.values()]
    chosen = [t for share in shares for t in share]
    if plan.cell.mode == "standalone" and config.sub_questions:
        limit = config.sub_question_limit
        chosen += [s for share in shares for t in (share if limit is None else stratified_sample(share, limit,
                                                                                                  config.seed))
                   for s in sub_question_tasks(t)]
    return chosen


def has_kb(kb_dir: Path) -> bool:
    from kb.config import KBPaths

    return KBPaths(kb_dir).db.exists()


def _known_tools() -> frozenset[str]:
    from tools.langchain_tools import tool_specs

    return frozenset(s.name for s in tool_specs(object())) | {"estimate_property"}


def _ask(plan: CellPlan, tasks: list[Task], parents: dict[str, Task], train: list[Task], config: EvalConfig,
         judge: DesignJudge | None, writer: ShardWriter, progress: Callable[[int, int], None],
         backbones: dict) -> None:
    cell, done = plan.cell, writer.done_keys()
    common: dict[str, Any] = {"done": done, "append": writer.append, "parents": parents, "judge": judge, "progress": progress}
    if cell.mode == "baseline":
        from eval.baselines import constant_baseline, nearest_neighbour_baseline

        name = cell.model.removeprefix("baseline:")
        if not train:
            raise EvalInputError(f"baseline {name} needs train tasks in {config.tasks_file}")
        if name == "nearest_neighbour" and not has_kb(config.kb_dir):
            raise EvalInputError(f"baseline {name} needs the KB at {config.kb_dir}")
        baseline = constant_baseline(train) if name == "constant" else nearest_neighbour_baseline(config.kb_dir, train)
        run_baseline(cell, tasks, baseline, **common)
    elif cell.mode == "tools":
        from eval.produce import load_solver

        if not has_kb(config.kb_dir):
            raise EvalInputError(f"--mode tools needs the KB at {config.kb_dir} (python -m kb.build)")
        solver = load_solver(cell.model, config.kb_dir, cot=cell.cot, tool_menu=plan.tool_menu,
                             max_seconds=config.max_seconds)
        run_tools(cell, tasks, solver, known_tools=_known_tools(), **common)
    else:
        from agents.solver.backbones import load_text_backbone

        if cell.model not in backbones:  # one load per model and run, shared by its CoT on / off cells
            backbones[cell.model] = load_text_backbone(cell.model, config.models_dir)
        run_standalone(cell, tasks, backbones[cell.model], batch_size=config.batch_size,
                       max_new_tokens=config.max_new_tokens_cot if cell.cot else config.max_new_tokens,
                       lenient=config.lenient_answer, **common)


def _torch_threads(config: EvalConfig) -> int | None:
    """Set torch's thread count to the config's (None: torch's own default, one per core) and return what the
    language-model cells run with; None when no cell runs one (torch stays unloaded)."""
    if not any(p.cell.model.startswith("hf:") for p in plan_cells(config)):
        return None
    import torch

    if config.threads:
        torch.set_num_threads(config.threads)
    return torch.get_num_threads()


def _kb_version(kb_dir: Path) -> str | None:
    try:
        from tools.kb_view import KBView
        from tools.surrogate_store import kb_version_of

        return kb_version_of(KBView(kb_dir).paths.db)
    except (OSError, PolyBenchError, ValueError) as exc:
        log.warning("no KB version: %s", exc)
        return None


def _cell_progress(progress: CellProgress | None, name: str) -> Callable[[int, int], None]:
    def tick(done: int, total: int) -> None:
        if progress is not None:
            progress(name, done, total)

    return tick


def run_eval(config: EvalConfig, progress: CellProgress | None = None, *, strict: bool = True) -> RunResult:
    """Ask every planned cell (resuming from the shards) and write the report. With strict=False a cell
    whose model or solver is unavailable is skipped and named in the report instead of failing the run."""
    main, train = load_inputs(config)
    parents = {t.id: t for t in main}
    kb_ok = has_kb(config.kb_dir)
    judge = DesignJudge(config.kb_dir) if kb_ok else None
    shards = config.out / "shards"
    skipped: dict[str, str] = {}
    seconds: dict[str, float] = {}            # wall time per cell in this invocation (a resumed cell: the rest)
    backbones: dict = {}
    threads = _torch_threads(config)
    try:
        for plan in plan_cells(config):
            started = time.monotonic()
            tasks = _tasks_for(plan, main, config)
            with ShardWriter(shards / f"{_slug(plan.cell.name)}.jsonl", "key") as writer:
                try:
                    _ask(plan, tasks, parents, train, config, judge, writer, _cell_progress(progress, plan.cell.name),
                         backbones)
                except (SolverUnavailable, EvalInputError) as exc:
                    if strict:
                        raise
                    skipped[plan.cell.name] = str(exc)
                    log.warning("skipped %s: %s", plan.cell.name, exc)
            seconds[plan.cell.name] = round(time.monotonic() - started, 1)
    finally:
        if judge is not None:
            judge.close()
    return RunResult(config.out, write_outputs(config, main, skipped, seconds, threads), skipped)


def read_predictions(out: Path) -> list[Prediction]:
    """Every prediction in a run's shards (sorted by key; a torn last line of a killed run is ignored)."""
    preds: dict[str, Prediction] = {}
    for shard in sorted((Path(out) / "shards").glob("*.jsonl")):
        ShardWriter(shard, "key").close()  # cuts a torn tail
        for p in iter_records(shard, Prediction):
            preds[p.key] = p
    return [preds[k] for k in sorted(preds)]


def write_outputs(config: EvalConfig, main: list[Task], skipped: dict[str, str],
                  cell_seconds: dict[str, float] | None = None, threads: int | None = None) -> int:
    """predictions.jsonl, metrics.json, report.md and plots from the shards; the number of predictions."""
    preds = read_predictions(config.out)
    atomic_write_text(config.out / "predictions.jsonl", "".join(p.model_dump_json() + "\n" for p in preds))
    meta = {"task_set_hash": task_set_hash(sorted(main, key=lambda t: t.id)), "n_tasks": len(main),
            "tasks_file": str(config.tasks_file), "split": config.split, "kb_version": _kb_version(config.kb_dir),
            "prompt_version": PROMPT_VERSION, "models": sorted({p.cell.model for p in preds}),
            "cells": sorted({p.cell.name for p in preds}), "n_predictions": len(preds), "skipped_cells": skipped,
            "cell_seconds": cell_seconds or {}, "torch_threads": threads,
            "benchmarks": [str(b) for b in config.benchmarks], "config": config.model_dump(mode="json")}
    write_report(config.out, all_metrics(preds), meta)
    return len(preds)
