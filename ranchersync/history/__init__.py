"""Sync history and delivery metrics: pages of operations, one operation in detail, CSV export, and the metrics
(activity, success rate, durations, DORA keys) aggregated in SQL; plus their `--json` payloads."""

from ranchersync.history.dora import Headline, Incident, LeadTime, LeadTimes, LeadTimeStats, RestoreTimes
from ranchersync.history.filters import HistoryFilter, date_range
from ranchersync.history.metrics import (
    DURATION_BUCKETS,
    DayCount,
    DaySuccess,
    Deployments,
    DurationBucket,
    Durations,
    FailureRate,
    Metrics,
    StatusCount,
    compute_metrics,
)
from ranchersync.history.payloads import metrics_payload, operation_detail_payload, operation_payload
from ranchersync.history.queries import (
    MAX_PAGE_SIZE,
    OperationDetail,
    OperationSummary,
    Page,
    RecordedContainer,
    ResultTally,
    ResultView,
    export_csv,
    get_operation_detail,
    iter_csv,
    list_operations,
)

__all__ = [
    "DURATION_BUCKETS",
    "MAX_PAGE_SIZE",
    "DayCount",
    "DaySuccess",
    "Deployments",
    "DurationBucket",
    "Durations",
    "FailureRate",
    "Headline",
    "HistoryFilter",
    "Incident",
    "LeadTime",
    "LeadTimeStats",
    "LeadTimes",
    "Metrics",
    "OperationDetail",
    "OperationSummary",
    "Page",
    "RecordedContainer",
    "RestoreTimes",
    "ResultTally",
    "ResultView",
    "StatusCount",
    "compute_metrics",
    "date_range",
    "export_csv",
    "get_operation_detail",
    "iter_csv",
    "list_operations",
    "metrics_payload",
    "operation_detail_payload",
    "operation_payload",
]
