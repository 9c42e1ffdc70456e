"""All SQLAlchemy models of the tuning database, in one module.

The schema is versioned by the Alembic migrations in tuning_db/migrations/; a change here needs
a new revision there (a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class WorkloadRow(Base):
    """An operator at one shape: the canonical key and the normalised text it hashes."""

    __tablename__ = "workloads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    op: Mapped[str] = mapped_column(String(64), index=True)
    layout: Mapped[str] = mapped_column(String(16))
    dtype: Mapped[str] = mapped_column(String(16))
    params: Mapped[str] = mapped_column(Text)  # JSON object, OPERATORS.md order
    text: Mapped[str] = mapped_column(Text)


class DeviceRow(Base):
    """A device by catalog name, with what it reported and the target the generator used."""

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    dialect: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(256), default="")
    description: Mapped[str] = mapped_column(String(256), default="")
    driver: Mapped[str] = mapped_column(String(128), default="")
    target: Mapped[str] = mapped_column(Text)  # JSON of search_spaces.Target
    # architecture family (the target's arch): devices of one family share bests as fallbacks
    arch: Mapped[str] = mapped_column(String(32), default="", server_default="", index=True)
    compiler: Mapped[str] = mapped_column(String(128), default="", server_default="")


class JobRow(Base):
    """A tuning job: a name, its spec (workloads x devices x budget) and its state."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    spec: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    status: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    # fleet jobs: higher priority first; the driver running it ("node:pid") beats a heartbeat
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    driver: Mapped[str] = mapped_column(String(256), default="", server_default="")
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TrialRow(Base):
    """One measured candidate, whatever its outcome."""

    __tablename__ = "trials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # globally unique: imports and merges between databases skip trials they already hold
    uid: Mapped[str] = mapped_column(String(32))
    workload_id: Mapped[int] = mapped_column(ForeignKey("workloads.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", name="fk_trials_job_id"), nullable=True, index=True
    )
    schedule: Mapped[str] = mapped_column(Text)  # canonical JSON
    schedule_key: Mapped[str] = mapped_column(String(64))
    generator_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    latency_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    samples: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of seconds
    protocol: Mapped[str] = mapped_column(Text, default="{}")  # JSON of the measure options
    error: Mapped[str] = mapped_column(Text, default="")
    compile_s: Mapped[float] = mapped_column(Float, default=0.0)
    max_rel_error: Mapped[float | None] = mapped_column(Float, nullable=True)
    # resources used, the worker, the spread and the time split
    details: Mapped[str] = mapped_column(Text, default="{}")
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)  # re-measured strictly
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        # the best query: one index seek, already in (latency, id) order
        Index(
            "ix_trials_best",
            "workload_id",
            "device_id",
            "generator_version",
            "status",
            "latency_s",
            "id",
        ),  # fmt: skip
        Index("ix_trials_schedule", "workload_id", "device_id", "schedule_key"),
        UniqueConstraint("uid", name="uq_trials_uid"),
    )


class CostModelRow(Base):
    """A trained cost model as an opaque blob (e.g. XGBoost's save_raw) with its metadata."""

    __tablename__ = "cost_models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # registry key of the model, e.g. "xgb"
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    meta: Mapped[str] = mapped_column(Text, default="{}")  # JSON: features, trained on, ...
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
