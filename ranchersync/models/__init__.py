"""Database models (SQLAlchemy 2 typed ORM), one module per part of the domain; import them from here."""

from __future__ import annotations

from ranchersync.models.base import (
    ACTIVE_OPERATION_STATUSES,
    ApprovalStatus,
    Base,
    Channel,
    CompareMode,
    DeliveryStatus,
    FreezeKind,
    OperationKind,
    OperationStatus,
    ResultStatus,
    Role,
    SyncMode,
    TimestampMixin,
    UTCDateTime,
    utcnow,
)
from ranchersync.models.catalogue import AppInstance, Environment, KeyCheck, Site
from ranchersync.models.governance import ApprovalDecision, ApprovalRequest, AuditEvent, AuditHead, FreezeWindow, User
from ranchersync.models.images import QuarantinedImage, Registry
from ranchersync.models.live import CollectorLease, LiveWatch, LiveWorkload
from ranchersync.models.notifications import NotificationSubscription, OutboxMessage, SiteHealth, UserPreference
from ranchersync.models.operations import (
    OutsideChangeSighting,
    SyncOperation,
    SyncResult,
    VersionArrival,
    VersionJourney,
)
from ranchersync.models.tokens import ApiToken, IdempotentAnswer  # the HTTP API (issue 21)
from ranchersync.models.trains import (  # release trains (issue 24)
    EnvironmentLock,
    EnvironmentSnapshot,
    ScheduledRequest,
    ScheduleKind,
    ScheduleStatus,
    SnapshotKind,
)
from ranchersync.models.verification import Gate, GateExemption, GateSource, Measurement, SoakSetting, Verdict

__all__ = [
    "ACTIVE_OPERATION_STATUSES",
    "ApiToken",
    "AppInstance",
    "ApprovalDecision",
    "ApprovalRequest",
    "ApprovalStatus",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Channel",
    "CollectorLease",
    "CompareMode",
    "DeliveryStatus",
    "Environment",
    "EnvironmentLock",
    "EnvironmentSnapshot",
    "FreezeKind",
    "FreezeWindow",
    "Gate",
    "GateExemption",
    "GateSource",
    "IdempotentAnswer",
    "KeyCheck",
    "LiveWatch",
    "LiveWorkload",
    "Measurement",
    "NotificationSubscription",
    "OperationKind",
    "OperationStatus",
    "OutboxMessage",
    "OutsideChangeSighting",
    "QuarantinedImage",
    "Registry",
    "ResultStatus",
    "Role",
    "ScheduleKind",
    "ScheduleStatus",
    "ScheduledRequest",
    "Site",
    "SiteHealth",
    "SnapshotKind",
    "SoakSetting",
    "SyncMode",
    "SyncOperation",
    "SyncResult",
    "TimestampMixin",
    "UTCDateTime",
    "User",
    "UserPreference",
    "Verdict",
    "VersionArrival",
    "VersionJourney",
    "utcnow",
]
