"""Answers that several topics' calls give alike (one schema in the OpenAPI document, whichever call answers it)."""

from __future__ import annotations

from typing import TypedDict

from ranchersync.approvals.requests import RequestPayload

__all__ = ["ApprovalAnswer"]


class ApprovalAnswer(TypedDict):
    """A sync, promotion or restore into a target that needs approvals: the request made instead (202)."""

    approvalRequest: RequestPayload
