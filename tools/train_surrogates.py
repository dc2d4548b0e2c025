"""Train the surrogate property models of a KB (one per property and kind of data) and print their cards.

    python -m tools.train_surrogates                                  # .polybench/kb, models for KB version
    python -m tools.train_surrogates --kb-dir /tmp/kb --min-train 20  # a small KB: lower the data threshold
    python -m tools.train_surrogates --property tg --property density --force

Models land in <kb_dir>/models/surrogates/<kb_version>/ (joblib + JSON card each, index.json last). A run
is a no-op when models for the current KB version and the same settings exist, unless --force.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kb.config import DEFAULT_KB_DIR, KBPaths
from kb.errors import PolyBenchError
from tools.surrogate_model import ModelCard
from tools.surrogate_store import kb_version_of, load_cards
from tools.surrogate_train import SurrogateConfig, ensure_models, train_surrogates


def render_cards(cards: list[ModelCard], console: Console) -> None:
    """One table row per model: data sizes and held-out errors."""
    from rich.table import Table

    table = Table("model", "unit", "n_train", "n_dev", "n_test", "test MAE", "test R2", "coverage",
                  "domain in/out", "s")
    for c in sorted(cards, key=lambda c: -c.n_train):
        m = c.metrics
        unit = f"log10({c.unit})" if c.log_scale else c.unit
        table.add_row(c.name, unit, str(c.n_train), str(c.n_dev), str(c.n_test),
                      "-" if m.test_mae is None else f"{m.test_mae:.4g}",
                      "-" if m.test_r2 is None else f"{m.test_r2:.3f}",
                      "-" if m.test_coverage is None else f"{m.test_coverage:.2f}",
                      f"{c.domain.in_domain:.2f}/{c.domain.out_of_domain:.2f}", f"{c.train_seconds:.0f}")
    console.print(table)


def main(
    *,
    kb_dir: Annotated[Path, typer.Option(help="the KB folder (holds current/)")] = DEFAULT_KB_DIR,
    models_dir: Annotated[Path | None, typer.Option(help="default: <kb_dir>/models/surrogates/<v>")] = None,
    min_train: Annotated[int, typer.Option(help="train-split polymers a (property, kind) needs")] = 100,
    max_bits: Annotated[int, typer.Option(help="Morgan bits used as inputs")] = 384,
    coverage: Annotated[float, typer.Option(help="target coverage of the calibrated interval")] = 0.8,
    prop: Annotated[list[str] | None, typer.Option("--property", help="only this one (repeatable)")] = None,
    tune: Annotated[bool, typer.Option(help="try the small hyper-parameter grid on dev")] = True,
    force: Annotated[bool, typer.Option(help="retrain even when up-to-date models exist")] = False,
) -> None:
    """Train (or confirm up to date) the surrogate models, then print one line per model."""
    from pydantic import ValidationError

    console = Console(width=None if sys.stdout.isatty() else 160)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        config = SurrogateConfig(min_train=min_train, max_bits=max_bits, coverage=coverage, properties=prop,
                                 tune=tune)
    except ValidationError as exc:
        for err in exc.errors():
            console.print(f"config error: {'.'.join(map(str, err['loc']))}: {err['msg']}")
        raise typer.Exit(1) from exc
    start = time.perf_counter()
    try:
        if force:
            folder, cards = train_surrogates(kb_dir, config, models_dir)
        else:
            folder = ensure_models(kb_dir, config, models_dir)
            cards = list(load_cards(folder, kb_version_of(KBPaths(kb_dir).db)).values())
    except PolyBenchError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    render_cards(cards, console)
    console.print(f"{len(cards)} models in {folder} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    typer.run(main)
