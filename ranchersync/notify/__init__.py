"""Notifications through Apprise: subscriptions per environment and event, an outbox written with the event, and
a sender that delivers after commit with retries (DESIGN.md, "Notification")."""

from ranchersync.notify.events import EVENTS, SUBSCRIBABLE, Message, check_events, render
from ranchersync.notify.outbox import approval_event, enqueue, freeze_event, site_event, sync_finished
from ranchersync.notify.sender import (
    DeliveryReport,
    apprise_send,
    attach,
    backoff,
    deliver_pending,
    deliver_soon,
    settle,
)
from ranchersync.notify.subscriptions import (
    SubscriptionView,
    add_subscription,
    get_subscription,
    list_subscriptions,
    remove_subscription,
    send_test,
)
from ranchersync.notify.urls import check_url, mask_url

__all__ = [
    "EVENTS", "SUBSCRIBABLE", "DeliveryReport", "Message", "SubscriptionView", "add_subscription",
    "approval_event", "apprise_send", "attach", "backoff", "check_events", "check_url", "deliver_pending",
    "deliver_soon", "enqueue", "freeze_event", "get_subscription", "list_subscriptions", "mask_url",
    "remove_subscription", "render", "send_test", "settle", "site_event", "sync_finished",
]
