"""Parallel builds with a timeout: kernels compile in spawned helper processes (one per CPU
core) while the worker times earlier candidates."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any


class CompileTimeout(Exception):
    """The compiler ran past the build time limit."""


class Builder:
    """A pool of compiler processes; a build that hangs takes its pool down, not the worker."""

    def __init__(self, fn: Callable[[str, Any], Any], key: Any, workers: int):
        self.fn, self.key, self.workers = fn, key, max(1, workers)
        self._pool: ProcessPoolExecutor | None = None
        self._jobs: dict[str, Future] = {}

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:  # spawned: children hold none of the worker's device state
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        return self._pool

    def submit(self, sources: list[str]) -> None:
        """Start building these sources (duplicates and ones already started are skipped)."""
        for src in sources:
            if src not in self._jobs:
                self._jobs[src] = self._executor().submit(self.fn, src, self.key)

    def get(self, source: str, timeout: float) -> tuple[Any, float]:
        """The artifact of `source` and the seconds waited for it. Raises the build's own
        error (BuildError), or CompileTimeout after `timeout` seconds."""
        self.submit([source])
        t0 = time.perf_counter()
        try:
            return self._jobs.pop(source).result(timeout=timeout), time.perf_counter() - t0
        except FutureTimeout:
            self._restart()
            raise CompileTimeout(f"the build took longer than {timeout:.0f} s") from None

    def _restart(self) -> None:
        """Kill the helpers (one is stuck) and start over, resubmitting what was pending."""
        done = {s: f for s, f in self._jobs.items() if f.done()}
        pending = [s for s, f in self._jobs.items() if not f.done()]
        if self._pool is not None:
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                proc.kill()
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool, self._jobs = None, done
        self.submit(pending)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
