"""Put eval runs side by side: accuracy per category for every cell of every run.

    python -m eval.compare .polybench/eval/default /tmp/ev-adapter [--out compare.md]

Reads each DIR/metrics.json; prints (or writes) one Markdown table per benchmark with a row per run and
cell, and says when runs were made on different task sets, KB versions or prompt versions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from agents.schema import CATEGORIES
from kb.errors import PolyBenchError


class CompareError(PolyBenchError, ValueError):
    """A folder that holds no readable metrics.json."""


def load_metrics(run: Path) -> dict:
    path = Path(run) / "metrics.json"
    if not path.exists():
        raise CompareError(f"{run}: no metrics.json (is it an eval.run --out folder?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CompareError(f"{path}: not JSON ({exc.msg})") from None


def _pct(entry: dict | None) -> str:
    if not entry or entry.get("accuracy") is None:
        return "–"
    ci = entry.get("ci95") or [None, None]
    return f"{entry['accuracy'] * 100:.1f}" + (f" [{ci[0] * 100:.0f}, {ci[1] * 100:.0f}]" if ci[0] is not None else "")


def comparison(runs: list[Path]) -> str:
    """The Markdown comparison of several runs."""
    loaded = [(Path(r), load_metrics(r)) for r in runs]
    lines = ["# Eval runs side by side\n"]
    for key in ("task_set_hash", "kb_version", "prompt_version"):
        values = {str(m["meta"].get(key)) for _, m in loaded}
        if len(values) > 1:
            lines.append(f"- note: the runs differ in {key} ({', '.join(sorted(values))}); compare with care")
    benches = sorted({b for _, m in loaded for b in m["benchmarks"]})
    for bench in benches:
        cats = [c for c in CATEGORIES if any(c in cell["by_category"] for _, m in loaded
                                             for cell in m["benchmarks"].get(bench, {}).get("cells", {}).values())]
        extra = sorted({c for _, m in loaded for cell in m["benchmarks"].get(bench, {}).get("cells", {}).values()
                        for c in cell["by_category"]} - set(cats))
        cats += extra
        lines += [f"\n## {bench}\n", "| run | model / mode / CoT | " + " | ".join(cats) + " | overall | gap |",
                  "|" + "---|" * (len(cats) + 4)]
        for path, m in loaded:
            for name, cell in m["benchmarks"].get(bench, {}).get("cells", {}).items():
                gap = (cell["compositionality_gap"].get("all") or {}).get("gap")
                lines.append(f"| {path} | {name} | " + " | ".join(_pct(cell["by_category"].get(c)) for c in cats)
                             + f" | {_pct(cell['overall'])} | {'–' if gap is None else f'{gap * 100:.0f}%'} |")
    return "\n".join(lines) + "\n"


def main(runs: Annotated[list[Path], typer.Argument(help="eval.run --out folders")],
         out: Annotated[Path | None, typer.Option(help="write the table here instead of printing it")] = None) -> None:
    """Compare eval runs: accuracy per category for every cell of every run."""
    from kb.cli import fail

    try:
        text = comparison(runs)
    except CompareError as exc:
        fail(exc)
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"comparison: {out}")
    else:
        typer.echo(text)


if __name__ == "__main__":
    typer.run(main)
