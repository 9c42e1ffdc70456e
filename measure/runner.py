"""The measurement protocol on any backend: check against the reference, then time."""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from measure.backend import Backend, BuildError, LaunchError
from measure.records import MeasureInput, MeasureOptions, MeasureResult, Status

NOT_BUILT = object()


def relative_error(out: np.ndarray, ref: np.ndarray) -> float:
    """max |out - ref| / max |ref| (NaN anywhere makes it infinite)."""
    if not np.all(np.isfinite(out)):
        return float("inf")
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(out.astype(np.float64) - ref))) / scale


def spread(samples: list[float]) -> float:
    """Interquartile range over the median."""
    if len(samples) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return (q3 - q1) / statistics.median(samples)


def enough(samples: list[float], opts: MeasureOptions) -> bool:
    total = sum(samples)
    if len(samples) >= opts.max_repeats or total >= opts.max_budget_s:
        return True
    if samples and samples[-1] > opts.cutoff_s:
        return True
    return (
        len(samples) >= opts.min_repeats
        and total >= opts.budget_s
        and spread(samples) <= opts.noise
    )


class Runner:
    """Measures candidates on one backend, keeping inputs and references per workload."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self._data: dict[tuple[str, int], tuple[list, np.ndarray]] = {}

    def _inputs(self, inp: MeasureInput) -> tuple[list, np.ndarray]:
        key = (inp.workload.key, inp.options.seed)
        if key not in self._data:
            if len(self._data) > 8:
                self._data.clear()
            arrays = inp.workload.random_inputs(inp.options.seed)
            ref = inp.workload.reference(arrays)
            self._data[key] = ([self.backend.upload(a) for a in arrays], ref)
        return self._data[key]

    def measure(
        self, inp: MeasureInput, artifact: Any = NOT_BUILT, compile_s: float = 0.0
    ) -> MeasureResult:
        """Check into a poisoned buffer, then warm up and time. Never raises.

        `artifact` is what the backend's compile_artifact returned (built in a helper
        process); without it the kernel is compiled here.
        """
        opts, kernel, be = inp.options, inp.kernel, self.backend
        t0 = time.perf_counter()
        try:
            compiled = be.build(kernel) if artifact is NOT_BUILT else be.load(kernel, artifact)
        except BuildError as e:
            status = Status.OUT_OF_RESOURCES if e.out_of_resources else Status.COMPILE_ERROR
            return MeasureResult(status, error=str(e)[-4000:], compile_s=compile_s)
        resources = be.resources(compiled)
        buffers, ref = self._inputs(inp)
        out = be.poisoned(ref.shape)
        args = [*buffers, out]
        stage = "check"
        try:
            t1 = time.perf_counter()
            first = be.launch(compiled, kernel, args)
            # some drivers (PoCL) finish compiling at the first launch: count that as compiling
            compile_s += (t1 - t0) + max(0.0, time.perf_counter() - t1 - first)
            t2 = time.perf_counter()
            err = relative_error(be.download(out, ref.shape), ref)
            check_s = first + time.perf_counter() - t2
            if not err <= opts.rtol:
                return MeasureResult(
                    Status.WRONG_RESULT,
                    error=f"max relative error {err:.3g} > {opts.rtol}",
                    max_rel_error=err,
                    compile_s=compile_s,
                    check_s=check_s,
                    resources=resources,
                )
            stage = "time"
            t3 = time.perf_counter()
            samples: list[float] = []
            if first > opts.cutoff_s:  # hopeless: its checked run is its one sample
                samples.append(first)
            else:
                for _ in range(opts.warmup):
                    be.launch(compiled, kernel, args)
            while not enough(samples, opts):
                if opts.flush:
                    be.flush()
                samples.append(be.launch(compiled, kernel, args))
        except LaunchError as e:
            status = Status.OUT_OF_RESOURCES if e.out_of_resources else Status.RUNTIME_ERROR
            return MeasureResult(
                status,
                error=f"{stage}: {e}"[-4000:],
                compile_s=compile_s,
                resources=resources,
                worker_broken=e.fatal,
            )
        return MeasureResult(
            Status.OK,
            latency_s=statistics.median(samples),
            samples=tuple(samples),
            max_rel_error=err,
            compile_s=compile_s,
            check_s=check_s,
            time_s=time.perf_counter() - t3,
            spread=spread(samples),
            resources=resources,
        )
