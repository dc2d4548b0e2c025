"""Shared set-up of the reasoner / distillation tests: the small KB's tasks and surrogates, cached on disk
(taskgen resumes from its job files and ensure_models reuses a finished folder, so a second module that asks
again pays nothing)."""

from __future__ import annotations

from pathlib import Path

from agents.files import read_tasks
from agents.schema import Task
from agents.taskgen.config import TaskGenConfig
from agents.taskgen.run import generate
from tools.surrogate_train import SurrogateConfig, ensure_models

TASK_SCALE = 0.004   # ~520 tasks over all templates and splits (as tests/test_taskgen.py)
MODELS = SurrogateConfig(min_train=20, properties=["tg", "density", "ffv"], tune=False, max_iter=150)  # = test_estimate


def small_tasks(kb_dir: Path) -> tuple[Path, list[Task]]:
    """The small KB's task file (generated once per session next to the KB) and its tasks."""
    out = Path(kb_dir).parent / "reasoner_tasks"
    if not (out / "tasks.jsonl").exists():
        generate(TaskGenConfig(kb_dir=kb_dir, out_dir=out, scale=TASK_SCALE, n_jobs=2, seed=3))
    return out / "tasks.jsonl", read_tasks(out / "tasks.jsonl")


def small_models(kb_dir: Path) -> Path:
    """Surrogates of tg, density and ffv on the small KB (with out-of-fold estimates), in the default folder."""
    return ensure_models(kb_dir, MODELS)
