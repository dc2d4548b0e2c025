"""Worker processes that never outlive the job that started them.

A ProcessPoolExecutor worker whose parent is killed (kill -9, OOM killer) blocks forever on its task
queue: every worker holds both ends of that queue's pipe, so no end-of-file ever arrives (measured here
with fork, spawn and forkserver alike). `die_with_parent` asks the kernel to SIGKILL the calling process
when its parent exits (Linux prctl PR_SET_PDEATHSIG), and exits at once if the parent is already gone.
Pools call it as their initializer (`process_pool`); a CLI whose pools it cannot reach calls it from
module level when spawned workers import it as `__mp_main__` (see kb.build). That import runs before
multiprocessing knows the parent, so the CLI first records its pid in the environment (`mark_job_parent`)
and the hook passes it (`job_parent_pid`): a worker whose parent died while it was starting exits too.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
PARENT_PID_ENV = "POLYBENCH_JOB_PID"


def mark_job_parent() -> None:
    """Record this process as the parent of the workers it will spawn (they inherit the environment)."""
    os.environ[PARENT_PID_ENV] = str(os.getpid())


def job_parent_pid() -> int | None:
    """The pid mark_job_parent recorded, if any."""
    value = os.environ.get(PARENT_PID_ENV, "")
    return int(value) if value.isdigit() else None


def die_with_parent(parent_pid: int | None = None) -> None:
    """Make this (worker) process die when its parent does; a no-op where the kernel cannot do it.

    parent_pid: the parent's pid when this process was not started by multiprocessing."""
    parent = multiprocessing.parent_process()
    expected = parent_pid if parent_pid is not None else parent.pid if parent is not None else None
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
                logger.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        except (OSError, AttributeError) as exc:  # no libc symbol: keep the pool usable
            logger.debug("prctl unavailable: %s", exc)
    if expected is not None and os.getppid() != expected:
        os._exit(1)  # the parent died before the request above was in place


def process_pool(n_workers: int) -> ProcessPoolExecutor:
    """A spawn-context pool whose workers die with this process (spawn: safe in a threaded parent)."""
    return ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_parent)
