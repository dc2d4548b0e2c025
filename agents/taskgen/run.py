"""Plan and run task generation: one graph job per (template, split), in worker processes, resumable."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from agents.files import atomic_write_text, read_tasks, write_tasks
from agents.schema import Task
from agents.taskgen.base import TemplateContext
from agents.taskgen.config import TaskGenConfig
from agents.taskgen.dedupe import distinct_tasks
from agents.taskgen.pools import Pools
from agents.taskgen.registry import load_templates
from agents.taskgen.writer import remove_leftovers, write_outputs
from kb.config import KBPaths
from kb.errors import PolyBenchError
from kb.store import connect_read_only
from kb.versions import code_fingerprint, library_versions
from kb.workers import process_pool

log = logging.getLogger(__name__)
ProgressFn = Callable[[int, int], None]  # jobs done, jobs total


@dataclass(frozen=True)
class Job:
    template: str
    split: str
    want: int
    round: int = 0   # round 1 tops up categories whose templates ran out of distinct tasks

    @property
    def file_name(self) -> str:
        return f"{self.template}-{self.split}-r{self.round}.jsonl"


@dataclass
class GenerationReport:
    tasks: int
    seconds: float
    per_job: dict[str, dict] = field(default_factory=dict)
    rejections: dict[str, int] = field(default_factory=dict)
    resumed_jobs: int = 0


def plan_jobs(config: TaskGenConfig) -> list[Job]:
    """Split every category's count over its templates and the splits (deterministic order)."""
    templates = load_templates()
    chosen = [t for t in templates.values() if config.templates is None or t.name in config.templates]
    if config.templates:
        unknown = set(config.templates) - set(templates)
        if unknown:
            raise KeyError(f"unknown templates {sorted(unknown)}; known: {sorted(templates)}")
    jobs = []
    for category, total in config.per_category.items():
        members = sorted(t.name for t in chosen if t.category == category)
        for name in members:
            for split, fraction in sorted(config.splits.items()):
                want = round(total * config.scale * fraction / len(members))
                if want > 0:
                    jobs.append(Job(name, split, want))
    return jobs


@lru_cache(maxsize=3)
def _pools(kb_dir: str, split: str) -> Pools:
    """Per-process cache: a worker loads each split's pools once."""
    return Pools.load(Path(kb_dir), split)


def _run(kb_dir: str, job: Job, seed: int, difficulties: tuple[int, ...] | None) -> tuple[Job, list[dict], dict]:
    from agents.graph_taskgen import run_job

    state = run_job(TemplateContext(_pools(kb_dir, job.split)), job.template, job.want, seed + 7919 * job.round)
    tasks = [t for t in state["emitted"] if difficulties is None or t.difficulty in difficulties]
    return job, [t.model_dump(mode="json") for t in tasks], state["rejections"]


# the code whose output a cached job file holds: a change in any of it must not reuse old job files
GENERATOR_CODE = ("agents/taskgen", "agents/graph_taskgen.py", "agents/state.py", "agents/schema.py",
                  "agents/answers.py", "kb", "tools")


def generator_version() -> str:
    """Fingerprint of the generator's code and the content-shaping library versions."""
    blob = json.dumps([code_fingerprint(*GENERATOR_CODE), library_versions()], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _config_hash(config: TaskGenConfig, kb_version: str) -> str:
    """Job-cache key: the config, the KB content version and the generator code version."""
    blob = config.model_dump_json(exclude={"out_dir", "n_jobs"}) + kb_version + generator_version()
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def top_up_jobs(jobs: list[Job], got: dict[Job, int]) -> list[Job]:
    """Round-1 jobs that give a category's shortfall (templates that ran dry) to its other templates."""
    templates = load_templates()
    extra = []
    for split in sorted({j.split for j in jobs}):
        for category in sorted({templates[j.template].category for j in jobs}):
            members = [j for j in jobs if j.split == split and templates[j.template].category == category]
            short = sum(j.want - got[j] for j in members)
            able = [j for j in members if got[j] >= j.want]
            if short > 0 and able:
                share = -(-short // len(able))
                extra += [Job(j.template, split, share, round=1) for j in able]
    return extra


def _run_all(config: TaskGenConfig, jobs: list[Job], job_dir: Path, progress: ProgressFn | None,
             done_before: int, total: int) -> None:
    """Run the jobs whose output file is missing (in worker processes), writing one file per job."""
    difficulties = tuple(config.difficulties) if config.difficulties else None
    todo = sorted((j for j in jobs if not (job_dir / j.file_name).exists()), key=lambda j: (j.split, j.template))
    finished = done_before + len(jobs) - len(todo)

    def record(job: Job, tasks: list[dict], rejections: dict) -> None:
        nonlocal finished  # rejections first: a job counts as done once its task file exists
        atomic_write_text(job_dir / f"{job.file_name}.rejections.json", json.dumps(rejections))
        write_tasks(job_dir / job.file_name, [Task.model_validate(t) for t in tasks])
        finished += 1
        if progress:
            progress(finished, total)

    if config.n_jobs == 1:
        for job in todo:
            record(*_run(str(config.kb_dir), job, config.seed, difficulties))
        return
    with process_pool(config.n_jobs) as pool:  # workers die with this process; sorted: reuse a split's pools
        futures = [pool.submit(_run, str(config.kb_dir), j, config.seed, difficulties) for j in todo]
        for future in as_completed(futures):
            record(*future.result())


def generate(config: TaskGenConfig, progress: ProgressFn | None = None) -> GenerationReport:
    """Run every job (skipping those finished by an earlier run of the same config) and write outputs."""
    t0 = time.perf_counter()
    con = connect_read_only(KBPaths(config.kb_dir).db)
    try:
        kb_version = con.execute("SELECT value FROM build_info WHERE key = 'kb_version'").fetchone()[0]
        sources = con.execute("SELECT source_id, kind, licence FROM sources ORDER BY source_id").df()
    finally:
        con.close()
    jobs = plan_jobs(config)
    job_dir = config.out_dir / "jobs" / _config_hash(config, kb_version)
    job_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(config.out_dir, job_dir)
    report = GenerationReport(0, 0.0)
    report.resumed_jobs = sum((job_dir / j.file_name).exists() for j in jobs)
    _run_all(config, jobs, job_dir, progress, 0, len(jobs))
    got = {j: len(read_tasks(job_dir / j.file_name)) for j in jobs}
    extra = top_up_jobs(jobs, got)
    _run_all(config, extra, job_dir, progress, len(jobs), len(jobs) + len(extra))
    tasks: list[Task] = []
    seen: set[str] = set()
    for job in jobs + extra:
        job_tasks = [t for t in read_tasks(job_dir / job.file_name) if t.id not in seen]
        seen.update(t.id for t in job_tasks)
        tasks.extend(job_tasks)
        rejections = json.loads((job_dir / f"{job.file_name}.rejections.json").read_text())
        entry = report.per_job.setdefault(f"{job.template}/{job.split}", {"want": 0, "got": 0})
        entry["want"] += job.want if job.round == 0 else 0
        entry["got"] += len(job_tasks)
        for reason, n in rejections.items():
            report.rejections[f"{job.template}: {reason}"] = report.rejections.get(f"{job.template}: {reason}", 0) + n
    tasks, dropped = distinct_tasks(tasks)
    for reason, n in sorted(dropped.items()):
        report.rejections[f"dedupe: {reason}"] = n
    if not tasks:
        raise PolyBenchError("no task matched the selection (templates, difficulties, scale); nothing was written")
    write_outputs(config.out_dir, tasks, sources, kb_version, config.seed, generator_version())
    report.tasks = len(tasks)
    report.seconds = round(time.perf_counter() - t0, 2)
    return report
