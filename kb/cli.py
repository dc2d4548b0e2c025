"""What every command-line entry point does with bad input: one line per problem on stderr, exit 1.

Printed with typer.echo, not rich: rich wraps a long message (an md5 mismatch with a long path) over
several lines. Library code raises (PolyBenchError, ConfigError with one line per field); CLIs call `fail`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer

from kb.errors import PolyBenchError


def fail(message: object) -> NoReturn:
    """Print 'error: <line>' for each line of the message (at least one) and exit with status 1."""
    lines = [line.strip() for line in str(message).strip().splitlines() if line.strip()]
    for line in lines or [type(message).__name__]:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(1)


def first_line(error: BaseException) -> str:
    """The first line of an error (DuckDB appends a caret diagram of the SQL)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def checked_out_dir(path: Path, what: str) -> Path:
    """A folder a command may create or write into; PolyBenchError when it or a parent is a file."""
    path = Path(path)
    for folder in (path, *path.parents):
        if folder.exists() and not folder.is_dir():
            raise PolyBenchError(f"{what} {path}: {folder} is a file, not a folder")
    return path
