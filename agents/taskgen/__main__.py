"""Generate the PolyBench task benchmark.

    python -m agents.taskgen                                  # defaults: ~130k tasks from .polybench/kb
    python -m agents.taskgen --scale 0.01 --out /tmp/tasks    # a quick small run

Writes tasks.jsonl, tasks.parquet, counts.json and hf/ (a folder `datasets.load_dataset` loads, with a card).
Interrupted runs resume: finished (template, split) jobs are kept under out/jobs/<config hash>/. Settings
come from TaskGenConfig defaults < --config (JSON or TOML) < flags; bad input is one line per problem.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer


def main(
    kb_dir: Annotated[Path | None, typer.Option(help="the KB built by `python -m kb.build` [.polybench/kb]")] = None,
    out: Annotated[Path | None, typer.Option(help="output folder [.polybench/tasks]")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (same seed, same tasks) [0]")] = None,
    scale: Annotated[float | None, typer.Option(help="multiply every count (0.01 = quick run) [1]")] = None,
    template: Annotated[list[str] | None, typer.Option(help="only these templates (repeatable)")] = None,
    difficulty: Annotated[list[int] | None, typer.Option(help="only these difficulty levels (1-5)")] = None,
    jobs: Annotated[int | None, typer.Option(help="worker processes [all cores]")] = None,
    config: Annotated[Path | None, typer.Option(help="JSON or TOML file with TaskGenConfig fields")] = None,
) -> None:
    """Generate tasks in six categories with sub-questions, split by polymer, then print counts."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from agents.taskgen.config import TaskGenConfig
    from agents.taskgen.run import generate
    from kb.cli import checked_out_dir, fail
    from kb.errors import PolyBenchError
    from kb.layered_config import layered_config

    console = Console(width=None if sys.stdout.isatty() else 140)
    flags = {"kb_dir": kb_dir, "out_dir": out, "seed": seed, "scale": scale, "templates": template or None,
             "difficulties": difficulty or None, "n_jobs": jobs}
    try:
        cfg = layered_config(TaskGenConfig, file=config, flags=flags)
        checked_out_dir(cfg.out_dir, "--out")
    except PolyBenchError as exc:
        fail(exc)
    logging.basicConfig(level=logging.WARNING)
    with Progress(TextColumn("jobs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bars:
        bar = bars.add_task("jobs", total=None)
        try:
            report = generate(cfg, lambda done, total: bars.update(bar, completed=done, total=total))
        except (PolyBenchError, OSError) as exc:
            fail(exc)
        except KeyError as exc:  # plan_jobs: an unknown template name
            fail(exc.args[0] if exc.args else exc)
    counts = json.loads((cfg.out_dir / "counts.json").read_text())
    console.print(f"task set hash {counts['task_set_hash']} (KB {counts['kb_version']}, generator "
                  f"{counts['generator_version']})")
    console.print(f"{report.tasks:,} tasks in {report.seconds:.1f} s ({report.tasks / max(report.seconds, 1e-9):.0f}"
                  f" tasks/s; {report.resumed_jobs} jobs resumed) -> {cfg.out_dir}")
    for name in ("category", "difficulty", "split"):
        table = Table(title=name)
        table.add_column(name)
        table.add_column("tasks", justify="right")
        for k, v in sorted(counts[name].items()):
            table.add_row(k, f"{v:,}")
        console.print(table)
    short = {k: v for k, v in report.per_job.items() if v["got"] < v["want"]}
    if short:
        console.print(f"{len(short)} jobs made fewer tasks than planned (see rejections in out/jobs/)")


if __name__ == "__main__":
    typer.run(main)
