"""Reports: the drift between neighbouring environments (Markdown, CSV, JSON) and the delivery report of a period
(one self-contained HTML file with its charts)."""

from ranchersync.reports.delivery import delivery_html, write_delivery_report
from ranchersync.reports.drift import (
    DriftReport,
    Inconsistency,
    Pending,
    build_drift_report,
    drift_report,
    render_drift,
)

__all__ = [
    "DriftReport", "Inconsistency", "Pending", "build_drift_report", "delivery_html", "drift_report",
    "render_drift", "write_delivery_report",
]
