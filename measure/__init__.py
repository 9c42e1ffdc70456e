"""Devices, builders and runners, and the Ray pool of device workers."""

from measure.devices import LocalDevice, detect_local
from measure.pool import DevicePool, UnknownDevice
from measure.records import MeasureInput, MeasureOptions, MeasureResult, Status

__all__ = [
    "DevicePool",
    "LocalDevice",
    "MeasureInput",
    "MeasureOptions",
    "MeasureResult",
    "Status",
    "UnknownDevice",
    "detect_local",
]
