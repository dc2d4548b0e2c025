"""`python -m agents.distill --split train --out DIR [--limit N] [--workers K] [--tasks PATH] [--kb-dir DIR]`.

Resumable: rerun the same command after an interruption (even kill -9) and it finishes the rest.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kb.config import DEFAULT_KB_DIR
from kb.errors import PolyBenchError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m agents.distill", description=__doc__.splitlines()[0])
    p.add_argument("--split", default="train", choices=["train", "dev", "test"])
    p.add_argument("--out", type=Path, required=True, help="output folder (traces/shard-*.jsonl, summary.json)")
    p.add_argument("--tasks", type=Path, default=Path(".polybench/tasks/tasks.jsonl"), help="tasks.jsonl")
    p.add_argument("--kb-dir", type=Path, default=DEFAULT_KB_DIR)
    p.add_argument("--limit", type=int, default=None, help="only the first N tasks of the split")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    p.add_argument("--template", action="append", default=None, help="only this template (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from pydantic import ValidationError

    from agents.distill.run import DistillConfig, distill

    if not args.tasks.exists():
        print(f"error: no task file {args.tasks}; generate tasks with `python -m agents.taskgen`", file=sys.stderr)
        return 2
    try:
        config = DistillConfig(kb_dir=args.kb_dir, tasks=args.tasks, out=args.out, split=args.split, limit=args.limit,
                               workers=args.workers, templates=args.template)
    except ValidationError as exc:
        err = exc.errors()[0]
        print(f"error: {'.'.join(map(str, err['loc']))}: {err['msg']}", file=sys.stderr)
        return 2
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(unit="task", desc=f"distill {args.split}", dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        summary = distill(config, progress)
    except PolyBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
    rate = f", {summary.tasks_per_second} tasks/s" if summary.tasks_per_second else ""
    print(f"{summary.written}/{summary.tasks} tasks written: {summary.kept} kept, {summary.rejected} rejected "
          f"{dict(sorted(summary.by_reason.items()))}{rate}; summary in {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
