"""The tuning database: every trial, the best per (workload, device), and lookups."""

from tuning_db.lookup import NotTuned, lookup
from tuning_db.records import Best, DeviceInfo, TrialRecord
from tuning_db.store import TuningDB, database_url

__all__ = ["Best", "DeviceInfo", "NotTuned", "TrialRecord", "TuningDB", "database_url", "lookup"]
