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
from ranchersync.models.live import CollectorLease, LiveWatch, LiveWorkload
from ranchersync.models.notifications import NotificationSubscription, OutboxMessage, SiteHealth, UserPreference
from ranchersync.models.operations import (
    OutsideChangeSighting,
    SyncOperation,
    SyncResult,
    VersionArrival,
    VersionJourney,
)
from ranchersync.models.trains import (  # release trains (issue 24)
    EnvironmentLock,
    EnvironmentSnapshot,
    ScheduledRequest,
    ScheduleKind,
    ScheduleStatus,
    SnapshotKind,
)

__all__ = [
    "ACTIVE_OPERATION_STATUSES",
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
    "KeyCheck",
    "LiveWatch",
    "LiveWorkload",
    "NotificationSubscription",
    "OperationKind",
    "OperationStatus",
    "OutboxMessage",
    "OutsideChangeSighting",
    "ResultStatus",
    "Role",
    "ScheduleKind",
    "ScheduleStatus",
    "ScheduledRequest",
    "Site",
    "SiteHealth",
    "SnapshotKind",
    "SyncMode",
    "SyncOperation",
    "SyncResult",
    "TimestampMixin",
    "UTCDateTime",
    "User",
    "UserPreference",
    "VersionArrival",
    "VersionJourney",
    "utcnow",
]
