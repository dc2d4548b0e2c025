"""Benchmark models on PolyBench, standalone and tool-augmented, with sub-question diagnostics.

    python -m eval.run                                           # the embedded default (see below)
    python -m eval.run --model hf:smollm2 --mode standalone --cot on,off --limit 20 --out /tmp/ev
    python -m eval.run --model reasoner --mode tools --categories property_prediction --out /tmp/ev
    python -m eval.run --model hf:smollm2 --benchmark my_questions.jsonl --no-polybench --out /tmp/ev

With no flags: the local KB (.polybench/kb) and tasks (.polybench/tasks/tasks.jsonl); a stratified sample of
150 test tasks for `reasoner` with tools, SmolLM2 standalone with CoT on and off, 24 of them for SmolLM2
with tools and a short tool menu, and the nearest-neighbour baseline; cells that cannot run here (no
solver, no KB) are skipped and named in the report. Writes DIR/predictions.jsonl, metrics.json, report.md
and PNG plots, and prints where the report is. An interrupted run resumes from DIR/shards/ without asking
a finished prompt again. Settings: EvalConfig defaults < --config (JSON or TOML) < flags.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer


def _csv(values: list[str] | None) -> list[str] | None:
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()] if values else None


def _cot(values: list[str] | None) -> list[bool] | None:
    words = _csv(values)
    if words is None:
        return None
    bad = [w for w in words if w not in ("on", "off")]
    if bad:
        raise ValueError(f"--cot takes on and/or off, got {', '.join(bad)}")
    return [w == "on" for w in words]


def main(
    model: Annotated[list[str] | None, typer.Option(help="model spec: reasoner, hf:<path>[+adapter:<dir>], "
                                                       "openai:<model>@<url> (repeatable)")] = None,
    mode: Annotated[list[str] | None, typer.Option(help="standalone and/or tools (comma list)")] = None,
    cot: Annotated[list[str] | None, typer.Option(help="on and/or off (comma list)")] = None,
    split: Annotated[str | None, typer.Option(help="task split [test]")] = None,
    categories: Annotated[list[str] | None, typer.Option(help="only these categories (comma list)")] = None,
    templates: Annotated[list[str] | None, typer.Option(help="only these templates (comma list)")] = None,
    limit: Annotated[int | None, typer.Option(help="stratified sample size [150]")] = None,
    benchmark: Annotated[list[Path] | None, typer.Option(help="external benchmark: .jsonl or ChemBench-style "
                                                          ".json / folder (repeatable)")] = None,
    polybench: Annotated[bool | None, typer.Option(help="include the PolyBench tasks [yes]")] = None,
    baseline: Annotated[list[str] | None, typer.Option(help="reference baselines (nearest_neighbour, "
                                                        "constant) [nearest_neighbour]")] = None,
    tools_limit: Annotated[int | None, typer.Option(help="text models with tools: this many tasks")] = None,
    tool_menu: Annotated[list[str] | None, typer.Option(help="text models with tools: these tools")] = None,
    kb_dir: Annotated[Path | None, typer.Option(help="the KB [.polybench/kb]")] = None,
    tasks: Annotated[Path | None, typer.Option(help="tasks file [.polybench/tasks/tasks.jsonl]")] = None,
    out: Annotated[Path | None, typer.Option(help="report folder [.polybench/eval/default]")] = None,
    batch_size: Annotated[int | None, typer.Option(help="HF generation batch size [16]")] = None,
    config: Annotated[Path | None, typer.Option(help="JSON or TOML file with EvalConfig fields")] = None,
) -> None:
    """Evaluate models on PolyBench (and external benchmarks); write the report and print where it is."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from eval.config import EvalConfig, default_config
    from eval.runner import run_eval
    from kb.cli import checked_out_dir, fail
    from kb.errors import PolyBenchError
    from kb.layered_config import layered_config

    console = Console(width=None if sys.stdout.isatty() else 140, stderr=True)
    explicit_cells = model or mode or cot
    try:
        flags = {"models": model, "modes": _csv(mode), "cot": _cot(cot), "split": split,
                 "categories": _csv(categories), "templates": _csv(templates), "limit": limit,
                 "benchmarks": benchmark, "polybench": polybench, "baselines": _csv(baseline),
                 "tools_limit": tools_limit, "tool_menu": _csv(tool_menu), "kb_dir": kb_dir, "tasks_file": tasks,
                 "out": out, "batch_size": batch_size}
        preset = None if explicit_cells or config else default_config().model_dump(exclude_unset=True)
        cfg = layered_config(EvalConfig, preset=preset, file=config, flags=flags)
        checked_out_dir(cfg.out, "--out")
    except (PolyBenchError, ValueError) as exc:
        fail(exc)
    logging.basicConfig(level=logging.WARNING)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bars:
        ids: dict[str, TaskID] = {}

        def tick(name: str, done: int, total: int) -> None:
            if name not in ids:
                ids[name] = bars.add_task(name, total=total)
            bars.update(ids[name], completed=done, total=total)

        try:
            result = run_eval(cfg, tick, strict=bool(explicit_cells))
        except (PolyBenchError, OSError) as exc:
            fail(exc)
    for name, why in result.skipped.items():
        console.print(f"skipped {name}: {why}")
    typer.echo(f"{result.predictions} predictions; report: {result.out / 'report.md'}")


if __name__ == "__main__":
    typer.run(main)
