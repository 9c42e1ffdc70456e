"""All SQLAlchemy models of the tuning database, in one module."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
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


class TrialRow(Base):
    """One measured candidate, whatever its outcome."""

    __tablename__ = "trials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workload_id: Mapped[int] = mapped_column(ForeignKey("workloads.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
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
    job: Mapped[str] = mapped_column(String(128), default="")
    # resources used, the worker, the spread and the time split
    details: Mapped[str] = mapped_column(Text, default="{}")
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)  # re-measured strictly
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        Index("ix_trials_best", "workload_id", "device_id", "status", "latency_s"),
        Index("ix_trials_schedule", "workload_id", "device_id", "schedule_key"),
    )
