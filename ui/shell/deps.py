"""Cached resources: the AppContext (settings, engine, cipher) once per process; Rancher clients per action."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from types import ModuleType

import streamlit as st
from sqlalchemy.exc import InterfaceError, OperationalError

from ranchersync import notify
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.logs import setup_logging
from ranchersync.storage.db import database_error
from ranchersync.sync import mark_interrupted

log = logging.getLogger(__name__)


def _release(ctx: AppContext) -> None:
    ctx.engine.dispose()


@st.cache_resource(show_spinner="Opening the database…", on_release=_release)
def get_context() -> AppContext:
    """The process-wide context, its database migrated, configured from RANCHERSYNC_* variables."""
    setup_logging()  # once per server process: the context is made once
    ctx = AppContext.from_env()
    try:
        # `streamlit run` on a fresh database must work without a separate `db upgrade`.
        ctx.upgrade_database()
        ctx.cipher  # noqa: B018 - load the keys now: a wrong or missing key must stop the app, not one action later
    except (OperationalError, InterfaceError) as exc:  # the frame shows it as a sentence
        raise database_error(exc) from exc
    _recover_interrupted(ctx)
    _revive_demo(ctx)
    notify.attach(ctx)  # notifications queued by this process's actions are sent after their commit
    return ctx


def server_address() -> str | None:
    """The address this Streamlit server listens on (`server.address`; None or "" means every interface)."""
    value = st.get_option("server.address")
    return str(value) if value else None


def client_factory() -> ClientFactory:
    """How actions make a Rancher client (tests swap this); never cached, a client lives for one action."""
    from ranchersync.rancher import RancherClient

    return RancherClient


def demo_module() -> ModuleType | None:
    """`ranchersync.ops.demo`, or None while it does not exist yet (the app must run without it)."""
    try:
        return importlib.import_module("ranchersync.ops.demo")
    except ModuleNotFoundError as error:
        if error.name != "ranchersync.ops.demo":
            raise
        return None


RECOVERY_INTERVAL = 5.0  # seconds between two recovery passes of one server process
_recovery = {"at": float("-inf")}
_recovery_lock = threading.Lock()


def recover_interrupted() -> bool:
    """A recovery pass on page load, at most one per RECOVERY_INTERVAL per server: an operation of another replica
    that died shows as interrupted once its heartbeat is stale, without waiting for a restart. True if any was."""
    with _recovery_lock:
        if time.monotonic() - _recovery["at"] < RECOVERY_INTERVAL:
            return False
        _recovery["at"] = time.monotonic()
    return bool(_recover_interrupted(get_context()))


def _recover_interrupted(ctx: AppContext) -> list[int]:
    # A sync whose process died (a restart mid-sync) would hold its target environment for ever: mark it
    # interrupted so it can be rolled back or resumed. Operations of live processes (other replicas) are left alone.
    with ctx.session() as session:
        found = mark_interrupted(session)
        for operation_id in found:
            log.warning("operation #%s was interrupted by a restart: roll it back or resume it", operation_id)
    return found


def _revive_demo(ctx: AppContext) -> None:
    # After a restart the demo's simulated Rancher servers are gone; bring them back before anyone opens a page.
    demo = demo_module()
    ensure = getattr(demo, "ensure_demo_servers", None)
    if ensure is None:
        return
    try:
        ensure(ctx)
    except RancherSyncError as error:  # the app stays usable; the sites page will show the servers as unreachable
        log.warning("the demo's Rancher servers could not be restarted: %s", error)
