"""The measurement protocol on any backend: check against the reference, then time."""

from __future__ import annotations

import statistics
import time

import numpy as np

from measure.backend import Backend, BuildError, LaunchError
from measure.records import MeasureInput, MeasureResult, Status


def relative_error(out: np.ndarray, ref: np.ndarray) -> float:
    """max |out - ref| / max |ref| (NaN anywhere makes it infinite)."""
    if not np.all(np.isfinite(out)):
        return float("inf")
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(out.astype(np.float64) - ref))) / scale


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

    def measure(self, inp: MeasureInput) -> MeasureResult:
        """Build, check into a poisoned buffer, then warm up and time. Never raises."""
        opts, kernel = inp.options, inp.kernel
        t0 = time.perf_counter()
        try:
            compiled = self.backend.build(kernel)
        except BuildError as e:
            return MeasureResult(Status.COMPILE_ERROR, error=str(e)[-4000:])
        buffers, ref = self._inputs(inp)
        out = self.backend.poisoned(ref.shape)
        args = [*buffers, out]
        try:
            t1 = time.perf_counter()
            first = self.backend.launch(compiled, kernel, args)
            # some drivers (PoCL) finish compiling at the first launch: count that as compiling
            compile_s = (t1 - t0) + max(0.0, time.perf_counter() - t1 - first)
            err = relative_error(self.backend.download(out, ref.shape), ref)
            if not err <= opts.rtol:
                return MeasureResult(
                    Status.WRONG_RESULT,
                    error=f"max relative error {err:.3g} > {opts.rtol}",
                    max_rel_error=err,
                    compile_s=compile_s,
                )
            samples: list[float] = []
            if first <= opts.cutoff_s:
                for _ in range(opts.warmup):
                    self.backend.launch(compiled, kernel, args)
            while len(samples) < opts.max_repeats:
                samples.append(self.backend.launch(compiled, kernel, args))
                if samples[-1] > opts.cutoff_s:
                    break
                if len(samples) >= opts.min_repeats and sum(samples) >= opts.budget_s:
                    break
        except LaunchError as e:
            return MeasureResult(
                Status.RUNTIME_ERROR, error=str(e)[-4000:], compile_s=time.perf_counter() - t0
            )
        return MeasureResult(
            Status.OK,
            latency_s=statistics.median(samples),
            samples=tuple(samples),
            max_rel_error=err,
            compile_s=compile_s,
        )
