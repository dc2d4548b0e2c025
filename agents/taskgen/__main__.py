"""Generate the PolyBench task benchmark.

    python -m agents.taskgen                                  # defaults: ~130k tasks from .polybench/kb
    python -m agents.taskgen --scale 0.01 --out /tmp/tasks    # a quick small run

Writes tasks.jsonl, tasks.parquet, counts.json and hf/ (a folder `datasets.load_dataset` loads, with a card).
Interrupted runs resume: finished (template, split) jobs are kept under out/jobs/<config hash>/.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from kb.config import DEFAULT_KB_DIR


def main(
    kb_dir: Annotated[Path, typer.Option(help="the KB built by `python -m kb.build`")] = DEFAULT_KB_DIR,
    out: Annotated[Path, typer.Option(help="output folder")] = Path(".polybench/tasks"),
    seed: Annotated[int, typer.Option(help="random seed (same seed, same tasks)")] = 0,
    scale: Annotated[float, typer.Option(help="multiply every count (0.01 = quick run)")] = 1.0,
    template: Annotated[list[str] | None, typer.Option(help="only these templates (repeatable)")] = None,
    difficulty: Annotated[list[int] | None, typer.Option(help="only these difficulty levels")] = None,
    jobs: Annotated[int, typer.Option(help="worker processes (0 = all cores)")] = 0,
    config: Annotated[Path | None, typer.Option(help="JSON file with TaskGenConfig fields")] = None,
) -> None:
    """Generate tasks in six categories with sub-questions, split by polymer, then print counts."""
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from agents.taskgen.config import TaskGenConfig
    from agents.taskgen.run import generate
    from kb.errors import PolyBenchError

    console = Console(width=None if sys.stdout.isatty() else 140)
    layered = json.loads(config.read_text()) if config else {}
    flags = {"kb_dir": kb_dir, "out_dir": out, "seed": seed, "scale": scale}
    flags.update({k: v for k, v in {"templates": template or None, "difficulties": difficulty or None,
                                    "n_jobs": jobs or None}.items() if v is not None})
    try:
        cfg = TaskGenConfig(**{**layered, **flags})
    except ValidationError as exc:
        for err in exc.errors():
            console.print(f"config error: {'.'.join(map(str, err['loc']))}: {err['msg']}")
        raise typer.Exit(1) from exc
    logging.basicConfig(level=logging.WARNING)
    with Progress(TextColumn("jobs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bars:
        bar = bars.add_task("jobs", total=None)
        try:
            report = generate(cfg, lambda done, total: bars.update(bar, completed=done, total=total))
        except (PolyBenchError, KeyError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
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
