"""Lowering schedules to the loop-nest IR, one module per sketch family."""

from search_spaces.compute import ComputeDef
from search_spaces.ir import KernelIR
from search_spaces.lowering.tile import lower_tile
from search_spaces.lowering.xthread import lower_xthread
from search_spaces.schedule import Schedule

LOWERINGS = {
    "tile": lower_tile,
    "tile_cache": lower_tile,
    "tile_cpu": lower_tile,
    "xthread": lower_xthread,
}


def lower(compute: ComputeDef, schedule: Schedule, name: str) -> KernelIR:
    """The loop-nest kernel for `schedule` applied to `compute`, entry point `name`."""
    return LOWERINGS[schedule.sketch](compute, schedule, name)


__all__ = ["lower"]
