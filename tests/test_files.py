"""Task and trace files: atomic whole files, and resumable shards that survive a torn last line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.files import RecordFileError, ShardWriter, done_keys, read_traces, write_records
from agents.schema import Answer, Step, Trace


def _trace(i: int) -> Trace:
    return Trace(task_id=f"t{i}", model="reasoner", steps=[Step(skill="compose", thought="x")],
                 final_answer=Answer(type="yes_no", yes=True), outcome="solved")


def test_whole_files_round_trip_and_name_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    write_records(path, [_trace(1), _trace(2)])
    assert [t.task_id for t in read_traces(path)] == ["t1", "t2"]
    path.write_text(path.read_text() + '{"task_id": 3}\n')
    with pytest.raises(RecordFileError, match="traces.jsonl:3"):
        read_traces(path)


def test_a_torn_last_line_is_cut_and_its_work_redone(tmp_path: Path) -> None:
    path = tmp_path / "shard-0.jsonl"
    with ShardWriter(path, "task_id") as shard:
        shard.append(_trace(1))
        shard.append(_trace(2))
    with path.open("a") as handle:  # what a kill -9 in the middle of a write leaves
        handle.write(_trace(3).model_dump_json()[:40])
    assert done_keys(path, "task_id") == {"t1", "t2"}
    with ShardWriter(path, "task_id") as shard:
        assert shard.done_keys() == {"t1", "t2"}
        shard.append(_trace(3))
    assert [t.task_id for t in read_traces(path)] == ["t1", "t2", "t3"]
