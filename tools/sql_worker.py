"""The SQL tool's worker processes: a query that does not answer within its time limit is killed.

Each worker is a child process (`python -m tools.sql_worker`, started with subprocess rather than
multiprocessing so that a caller's script without a `__main__` guard is never re-imported) holding one sandbox connection (tools.sql.open_sandbox) to one KB file
with one set of hidden splits, reused across calls (attach and views once, not per query). The parent
sends (sql, max_rows, max_bytes, timeout_s, hidden polymer ids) and waits timeout_s + GRACE_S: the worker's own interrupt
timer stops an ordinary slow query at timeout_s and answers with the refusal; a query DuckDB cannot
interrupt (one huge function call) or a crash in its parser is ended by killing the worker, and the next
call starts a new one. Workers are per thread (DuckDB connections are not shared between threads),
at most MAX_WORKERS per thread, and die with their parent (kb.workers.die_with_parent).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections import OrderedDict
from multiprocessing.connection import Connection
from pathlib import Path

from kb.errors import KBNotBuiltError, PolyBenchError
from kb.workers import die_with_parent
from tools.sql import SQLRefused, SQLResult, answer, open_sandbox

logger = logging.getLogger(__name__)

GRACE_S = 1.0  # after the time limit, how long the worker may take to report its own interrupt
START_S = 120.0  # spawning python + duckdb and attaching the KB, on a busy machine
MAX_WORKERS = 4  # per thread; the least recently used one is stopped beyond that
_LOCAL = threading.local()


class SQLSandbox:
    """One worker process for one (KB file, hidden splits); restarted after a kill or a crash."""

    def __init__(self, db_path: Path, hidden_splits: frozenset[str]) -> None:
        self.db_path, self.hidden_splits = db_path, hidden_splits
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None

    def run(self, sql: str, max_rows: int, max_bytes: int, timeout_s: float,
            hidden_polymer_ids: frozenset[int] = frozenset()) -> SQLResult:
        """The query's result, or SQLRefused / KBNotBuiltError with the reason."""
        conn = self._started()
        conn.send((sql, max_rows, max_bytes, timeout_s, sorted(hidden_polymer_ids)))
        if not conn.poll(timeout_s + GRACE_S):
            self.stop()
            raise SQLRefused(f"query took longer than {timeout_s:g} s (the time limit) and was stopped; "
                             "filter earlier, aggregate or add a LIMIT")
        try:
            status, payload = conn.recv()
        except (EOFError, OSError):
            self.stop()
            raise SQLRefused("the SQL engine stopped while running this query (a crash on very complex or "
                             "deeply nested SQL); write a simpler query") from None
        return _unpacked(status, payload)

    def _started(self) -> Connection:
        if self._proc is not None and self._proc.poll() is None and self._conn is not None:
            return self._conn
        self.stop()
        ours, theirs = socket.socketpair()
        path = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
        args = json.dumps([theirs.fileno(), os.getpid(), str(self.db_path), sorted(self.hidden_splits)])
        proc = subprocess.Popen([sys.executable, "-m", "tools.sql_worker", args], pass_fds=[theirs.fileno()],
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(path)}, stdin=subprocess.DEVNULL)
        theirs.close()
        parent = Connection(ours.detach())
        self._proc, self._conn = proc, parent
        if not parent.poll(START_S):
            self.stop()
            raise PolyBenchError(f"the SQL sandbox did not start within {START_S:g} s")
        try:
            status, payload = parent.recv()
        except (EOFError, OSError):
            self.stop()
            raise PolyBenchError("the SQL sandbox stopped while starting") from None
        if status != "ready":
            self.stop()
            _unpacked(status, payload)
        return parent

    def stop(self) -> None:
        """Kill the worker (if any) and forget it."""
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(5)
        self._proc, self._conn = None, None


def sandbox_for(db_path: Path, hidden_splits: frozenset[str]) -> SQLSandbox:
    """This thread's sandbox for the KB file as it is now (a rebuilt file gets a new one)."""
    stat = os.stat(db_path)
    key = (str(db_path.resolve()), stat.st_ino, stat.st_mtime_ns, hidden_splits)
    pool: OrderedDict = getattr(_LOCAL, "pool", None) or OrderedDict()
    _LOCAL.pool = pool
    sandbox = pool.pop(key, None) or SQLSandbox(db_path, hidden_splits)
    pool[key] = sandbox
    while len(pool) > MAX_WORKERS:
        pool.popitem(last=False)[1].stop()
    return sandbox


def _unpacked(status: str, payload: object) -> SQLResult:
    """The worker's answer as a result, or the error it reported raised again in this process."""
    if status == "ok":
        assert isinstance(payload, SQLResult)
        return payload
    if status == "refused":
        raise SQLRefused(str(payload))
    if status == "not_built":
        raise KBNotBuiltError(str(payload))
    if status == "error":
        raise PolyBenchError(str(payload))
    raise RuntimeError(f"SQL worker bug: {payload}")  # an unexpected exception in the worker


def _serve(conn: Connection, db_path: str, hidden_splits: list[str]) -> None:
    """Worker main loop: open the sandbox once, then answer queries until the parent goes away."""
    try:
        con = open_sandbox(Path(db_path), frozenset(hidden_splits))
    except KBNotBuiltError as exc:
        conn.send(("not_built", str(exc)))
        return
    except PolyBenchError as exc:
        conn.send(("error", str(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            sql, max_rows, max_bytes, timeout_s, hidden_ids = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", answer(con, sql, max_rows, max_bytes, timeout_s, bool(hidden_splits),
                                    frozenset(hidden_ids))))
        except SQLRefused as exc:
            conn.send(("refused", exc.reason))
        except KBNotBuiltError as exc:
            conn.send(("not_built", str(exc)))
        except PolyBenchError as exc:
            conn.send(("error", str(exc)))
        except Exception as exc:  # a bug: reported to the parent, which raises it there
            logger.exception("SQL worker failed")
            conn.send(("bug", f"{type(exc).__name__}: {exc}"))


def main() -> None:
    """Entry of a worker process: argv[1] is JSON [socket fd, parent pid, KB file, hidden splits]."""
    fd, parent_pid, db_path, hidden_splits = json.loads(sys.argv[1])
    die_with_parent(parent_pid)
    _serve(Connection(fd), db_path, hidden_splits)


if __name__ == "__main__":
    main()
