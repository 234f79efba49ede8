"""Verification: an environment's metric gates and soak settings, and the measurements taken after a rollout."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ranchersync.models.base import Base, UTCDateTime, _in, utcnow

Verdict = Literal["pass", "fail", "inconclusive"]
GateSource = Literal["prometheus", "rancher-monitoring"]


class Gate(Base):
    """A named Prometheus query and the condition its values must meet after a rollout into the environment."""

    __tablename__ = "gates"
    __table_args__ = (
        UniqueConstraint("environment_id", "service", "name", name="uq_gates_environment_service_name"),
        CheckConstraint(_in("source", get_args(GateSource)), name="source_known"),
        CheckConstraint(_in("inconclusive", ("pass", "fail")), name="inconclusive_known"),
        CheckConstraint("count >= 1 AND failure_limit >= 0 AND interval_seconds > 0", name="bounds"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # "" for every service of the environment; a service's name: for it alone, overriding the environment's gate of
    # the same name for that service.
    service: Mapped[str] = mapped_column(String(253), default="", server_default="")
    source: Mapped[str] = mapped_column(String(20))
    prometheus_url: Mapped[str | None] = mapped_column(String(500))  # with source `prometheus`
    query: Mapped[str] = mapped_column(Text)
    success: Mapped[str] = mapped_column(String(500))
    interval_seconds: Mapped[float] = mapped_column(Float, default=10.0)
    count: Mapped[int] = mapped_column(Integer, default=3)
    failure_limit: Mapped[int] = mapped_column(Integer, default=0)
    inconclusive: Mapped[str] = mapped_column(String(10), default="fail")  # how an inconclusive measurement counts
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320), default="")

    def __repr__(self) -> str:
        return f"Gate(id={self.id!r}, name={self.name!r}, environment_id={self.environment_id!r})"


class GateExemption(Base):
    """An environment's gate that does not run for one of its services (`gates disable --service`)."""

    __tablename__ = "gate_exemptions"
    __table_args__ = (
        UniqueConstraint("environment_id", "service", "gate", name="uq_gate_exemptions_environment_service_gate"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(253))
    gate: Mapped[str] = mapped_column(String(100))  # the environment's gate's name
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320), default="")


class SoakSetting(Base):
    """How long an environment's pods must stay ready without restarts after a rollout (`soak_seconds`), and how long
    a version must have run, gated, in the source before it may enter (`min_source_soak_seconds`)."""

    __tablename__ = "soak_settings"
    __table_args__ = (CheckConstraint("soak_seconds >= 0 AND min_source_soak_seconds >= 0", name="not_negative"),)

    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    soak_seconds: Mapped[int] = mapped_column(Integer, default=0)
    min_source_soak_seconds: Mapped[int] = mapped_column(Integer, default=0)


class Measurement(Base):
    """One measurement of one service's verification: a gate's query values at a time, or the soak's restarts."""

    __tablename__ = "measurements"
    __table_args__ = (CheckConstraint(_in("verdict", get_args(Verdict)), name="verdict_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("sync_results.id", ondelete="CASCADE"), index=True)
    gate: Mapped[str] = mapped_column(String(100))  # the gate's name, or `soak`
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The query's values (None stands for NaN, which JSON cannot hold); the soak: [restarts seen].
    values: Mapped[list[Any]] = mapped_column(JSON, default=list)
    verdict: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")

    def __repr__(self) -> str:
        return f"Measurement(result_id={self.result_id!r}, gate={self.gate!r}, verdict={self.verdict!r})"
