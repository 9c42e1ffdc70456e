"""The tuning database: every trial, the best per (workload, device), and lookups."""

from tuning_db.engine import database_url
from tuning_db.lookup import MATCHES, NotTuned, UnknownDevice, lookup, lookup_json
from tuning_db.records import Best, CostModelBlob, DeviceInfo, JobInfo, TrialRecord
from tuning_db.schema import SchemaError
from tuning_db.store import TuningDB

__all__ = [
    "MATCHES",
    "Best",
    "CostModelBlob",
    "DeviceInfo",
    "JobInfo",
    "NotTuned",
    "SchemaError",
    "TrialRecord",
    "TuningDB",
    "UnknownDevice",
    "database_url",
    "lookup",
    "lookup_json",
]
