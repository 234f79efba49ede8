"""Reads and write use-cases of the Verification section (Environments screen): an environment's gates and soak, a
gate added, changed or removed, the soak set, and a gate tried once. The rules are the core's
(ranchersync/verification); each write returns an Outcome (ui/shell/outcome.py) instead of raising."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ranchersync.access.identity import Actor
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.verification import gates, trial
from ui.shell import deps
from ui.shell.outcome import Outcome, attempt


@dataclass(frozen=True)
class GateForm:
    """What the gate dialog asks for, as typed (the interval still text: the core parses durations)."""

    name: str
    query: str
    success: str
    prometheus_url: str | None  # None: the cluster's rancher-monitoring through the site's Rancher
    interval: str = "10s"
    count: int = 3
    failure_limit: int = 0
    inconclusive: Literal["pass", "fail"] = "fail"
    service: str = ""  # "": every service of the environment

    def spec(self) -> gates.GateSpec:
        """The core's spec; ValidationError for an interval that is no duration."""
        return gates.GateSpec(name=self.name, query=self.query, success=self.success,
                              prometheus_url=self.prometheus_url,
                              interval_seconds=gates.parse_duration(self.interval, "The interval"), count=self.count,
                              failure_limit=self.failure_limit, inconclusive=self.inconclusive,
                              service=self.service)


def checks(environment_id: int) -> dict[str, Any]:
    """An environment's gates and soak settings, read now (a few rows)."""
    ctx = deps.get_context()
    with ctx.session() as session:
        return gates.checks_payload(session, environment_id)


def add_gate(actor: Actor, environment_id: int, form: GateForm) -> Outcome:
    """Add a gate to an environment."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            gate = gates.add_gate(session, actor, environment_id, form.spec())
            name = gate.name
        return Outcome.done(f"Gate '{name}' added.")

    return attempt(work)


def update_gate(actor: Actor, gate_id: int, form: GateForm) -> Outcome:
    """Change a gate."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            gate = gates.update_gate(session, actor, gate_id, form.spec())
            name = gate.name
        return Outcome.done(f"Gate '{name}' saved.")

    return attempt(work)


def remove_gate(actor: Actor, gate_id: int) -> Outcome:
    """Remove a gate."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            name = gates.remove_gate(session, actor, gate_id).name
        return Outcome.done(f"Gate '{name}' removed.")

    return attempt(work)


def set_for_service(actor: Actor, gate_id: int, service: str, *, disabled: bool) -> Outcome:
    """Disable an environment's gate for one service, or run it for that service again (audited as `gates
    disable|enable --service`)."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            done = gates.set_gate_for_service(session, actor, gate_id, service, disabled=disabled)
        if disabled:
            return Outcome.done(f"Gate '{done['name']}' no longer runs for {done['service']} in "
                                f"{done['environment']}.")
        return Outcome.done(f"Gate '{done['name']}' runs for {done['service']} in {done['environment']} again.")

    return attempt(work)


def set_soak(actor: Actor, environment_id: int, soak: str, min_source_soak: str) -> Outcome:
    """Set an environment's soak time and minimum source soak (`0` turns one off)."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            gates.set_soak(session, actor, environment_id, soak=soak, min_source_soak=min_source_soak)
        return Outcome.done("Soak settings saved.")

    return attempt(work)


def try_gate(actor: Actor, gate_id: int, instance_id: int, service: str,
             say: Callable[[str], None]) -> tuple[Outcome, trial.Trial | None]:
    """Run a gate's query once for a service; the trial, or why it could not run (a refusal, a missing gate).
    An unreachable Prometheus or a query error is no failure here: it is the trial's `inconclusive` verdict."""
    try:
        found = trial.try_gate(deps.get_context(), actor, gate_id, instance_id, service,
                               factory=deps.client_factory(), say=say)
    except RancherSyncError as error:
        return Outcome.failed(error), None
    return Outcome.done(f"{found.gate}: {found.verdict}"), found
