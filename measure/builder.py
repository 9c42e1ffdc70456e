"""Parallel builds with a timeout: kernels compile in spawned helper processes (one per CPU
core), on GPUs while the worker times earlier candidates, on CPUs between its timings."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any


class CompileTimeout(Exception):
    """The compiler ran past the build time limit."""


class HelperCrashed(Exception):
    """A build helper process died (a compiler crash, or a kernel run while prebuilding);
    the worker builds that candidate itself."""


def _warm_helper(fn: Callable[[Any, Any], Any], item: Any, key: Any) -> None:
    """A helper's first act: build a small kernel, so that the compiler's modules and
    libraries are loaded before the first real build. A failure here is left for the real
    builds to report."""
    try:
        fn(item, key)
    except Exception:
        pass


def _key(item: Any) -> str:
    """Jobs are known by their source: `item` is a source or a kernel record with one."""
    return item if isinstance(item, str) else item.source


class Builder:
    """A pool of compiler processes; a build that hangs takes its pool down, not the worker.

    `fn(item, key)` builds one item: a source string, or a kernel record (KernelSource) for a
    function that needs its launch too (Backend.prebuild). With `warm_item` (a small kernel)
    every helper builds it first, when it starts."""

    def __init__(self, fn: Callable[[Any, Any], Any], key: Any, workers: int,
                 warm_item: Any = None):  # fmt: skip
        self.fn, self.key, self.workers = fn, key, max(1, workers)
        self.warm_item = warm_item
        self._pool: ProcessPoolExecutor | None = None
        self._jobs: dict[str, tuple[Any, Future]] = {}

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:  # spawned: children hold none of the worker's device state
            ctx = multiprocessing.get_context("spawn")
            init = {}
            if self.warm_item is not None:
                init = {"initializer": _warm_helper,
                        "initargs": (self.fn, self.warm_item, self.key)}  # fmt: skip
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, **init)
        return self._pool

    def warm(self) -> None:
        """Start every helper now rather than at the first builds (each builds `warm_item` as
        it starts): a helper's start, its imports and loading NVRTC cost the first build about
        1 s on a 2-core VM (0.9 to 1.3 s cold, 0.1 to 0.2 s warmed). The slow first tasks seen
        on the GPU machine were slow candidates, not this (TuneOptions.build_limit). Nothing
        waits for the warming."""
        for _ in range(self.workers):
            self._executor().submit(os.getpid)

    def submit(self, items: Iterable[Any]) -> None:
        """Start building these (duplicates and ones already started are skipped)."""
        for item in items:
            if _key(item) not in self._jobs:
                self._jobs[_key(item)] = (item, self._executor().submit(self.fn, item, self.key))

    def get(self, item: Any, timeout: float) -> tuple[Any, float]:
        """The artifact of `item` and the seconds waited for it. Raises the build's own
        error (BuildError), CompileTimeout after `timeout` seconds, or HelperCrashed."""
        self.submit([item])
        t0 = time.perf_counter()
        try:
            return self._jobs.pop(_key(item))[1].result(timeout=timeout), time.perf_counter() - t0
        except FutureTimeout:
            self._restart()
            raise CompileTimeout(f"the build took longer than {timeout:.0f} s") from None
        except BrokenProcessPool:
            self._restart()
            raise HelperCrashed("a build helper process died building this kernel") from None

    def settle(self, timeout: float) -> float:
        """Wait until no build is running (at most `timeout` seconds; a build still running
        then is left to its own get); returns the seconds waited."""
        t0 = time.perf_counter()
        for _, job in list(self._jobs.values()):
            left = timeout - (time.perf_counter() - t0)
            if left <= 0:
                break
            try:
                job.exception(timeout=left)
            except (FutureTimeout, CancelledError):
                break
        return time.perf_counter() - t0

    def _restart(self) -> None:
        """Kill the helpers (one is stuck or died) and start over, resubmitting what was
        pending; builds the broken pool lost are submitted again when asked for."""
        broken = {k for k, (_, f) in self._jobs.items()
                  if f.done() and isinstance(f.exception(), BrokenProcessPool)}  # fmt: skip
        done = {k: v for k, v in self._jobs.items() if v[1].done() and k not in broken}
        pending = [item for k, (item, f) in self._jobs.items() if not f.done()]
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
