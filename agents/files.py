"""Task and trace files: the one place that reads and writes PolyBench records as JSONL.

- `write_records` / `read_records`: a whole file of one pydantic model, written atomically (a final file
  appears whole or not at all); `read_tasks` / `read_traces` are the typed shorthands.
- A chat request task (split "chat", the one task without a gold) is refused by every writer and reader here,
  so it can never reach a benchmark file or a scorer.
- `ShardWriter`: append-only shards for long jobs (distillation, evaluation) that resume after `kill -9`:
  every line is flushed and fsynced before it counts, a torn last line is cut off on reopen, and
  `done_keys()` tells the job what it must not do twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Self, TypeVar

from pydantic import BaseModel

from agents.schema import Task, Trace
from kb.errors import PolyBenchError

M = TypeVar("M", bound=BaseModel)


class RecordFileError(PolyBenchError, ValueError):
    """A JSONL file whose line cannot be read as the expected record (the message names file and line)."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so that readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_records(path: Path, records: Iterable[BaseModel]) -> None:
    """One JSON line per record, written atomically (a chat request task is refused: it is never a record)."""
    atomic_write_text(path, "".join(_writable(r).model_dump_json() + "\n" for r in records))


def _writable(record: M) -> M:
    """The record, or RecordFileError for a chat request task (no gold: never written, never scored)."""
    if isinstance(record, Task) and record.is_request:
        raise RecordFileError(f"task {record.id!r} is a chat request (split 'chat', no gold): it is never written "
                              "to a task file")
    return record


def iter_records(path: Path, model: type[M]) -> Iterator[M]:
    """Records of one JSONL file, validated; RecordFileError naming the file and line on a bad one."""
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = model.model_validate_json(line)
            except ValueError as exc:
                first = str(exc).splitlines()[0]
                raise RecordFileError(f"{path}:{number}: not a valid {model.__name__} ({first})") from None
            if isinstance(record, Task) and record.is_request:
                raise RecordFileError(f"{path}:{number}: a chat request task (split 'chat') is never read as a "
                                      "benchmark task")
            yield record


def read_records(path: Path, model: type[M]) -> list[M]:
    return list(iter_records(path, model))


def read_tasks(path: Path) -> list[Task]:
    """Tasks of a tasks.jsonl (as written by `python -m agents.taskgen`)."""
    return read_records(path, Task)


def write_tasks(path: Path, tasks: Iterable[Task]) -> None:
    write_records(path, tasks)


def read_traces(path: Path) -> list[Trace]:
    return read_records(path, Trace)


class ShardWriter:
    """Append-only JSONL shard of a resumable job; each `append` is durable when it returns.

    `key_field` names the JSON field that identifies a unit of work (e.g. 'task_id'); `done_keys()` lists
    the keys already written, so a rerun skips them and nothing is written twice.
    """

    def __init__(self, path: Path, key_field: str) -> None:
        self.path = Path(path)
        self.key_field = key_field
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_torn_tail()
        self._handle = self.path.open("a", encoding="utf-8")

    def _cut_torn_tail(self) -> None:
        """Drop a last line left half-written by a killed process (everything before it is whole)."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with self.path.open("r+b") as handle:
                handle.truncate(keep)

    def done_keys(self) -> set[str]:
        return done_keys(self.path, self.key_field)

    def append(self, record: BaseModel | dict) -> None:
        line = _writable(record).model_dump_json() if isinstance(record, BaseModel) else json.dumps(record, sort_keys=True)
        self._handle.write(line + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def done_keys(path: Path, key_field: str) -> set[str]:
    """The keys of the whole lines of a shard (a torn last line does not count)."""
    path = Path(path)
    if not path.exists():
        return set()
    keys = set()
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.endswith("\n") and line.strip():
            keys.add(str(json.loads(line)[key_field]))
    return keys
