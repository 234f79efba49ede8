"""An environment's gates and soak settings: add, change, list, remove (admins, audited), and their payloads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.environments import get_environment
from ranchersync.kernel.errors import NotFoundError, ValidationError
from ranchersync.models import Environment, Gate, SoakSetting
from ranchersync.security.host_policy import HostPolicy
from ranchersync.verification.expressions import parse_success
from ranchersync.verification.prometheus import check_prometheus_url, check_query

_DURATION: Final = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")
MAX_COUNT: Final = 100
MAX_INTERVAL: Final = 3600.0
MAX_SOAK: Final = 7 * 24 * 3600
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")


def parse_duration(text: str, what: str = "duration") -> float:
    """`90`, `10s`, `5m`, `1h30m` as seconds; ValidationError otherwise."""
    value = (text or "").strip().lower()
    match = _DURATION.match(value)
    if not value or match is None or not any(match.groups()):
        raise ValidationError(f"{what} {text!r} is not a duration.", hint="Write it as 10s, 5m, 1h or 1h30m.")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class GateSpec:
    """What `gates add` asks for."""

    name: str
    query: str
    success: str
    prometheus_url: str | None = None  # None: rancher-monitoring through the site's Rancher proxy
    interval_seconds: float = 10.0
    count: int = 3
    failure_limit: int = 0
    inconclusive: Literal["pass", "fail"] = "fail"


def add_gate(session: Session, actor: Actor, environment: int | str, spec: GateSpec,
             policy: HostPolicy | None = None) -> Gate:
    """Add a gate to an environment, every field checked first; the caller commits."""
    require(actor, "manage_catalogue")
    env = get_environment(session, environment)
    name = _check_name(session, env, spec.name)
    gate = Gate(environment_id=env.id, name=name, created_by=actor.email)
    _fill(gate, spec, policy)
    session.add(gate)
    session.flush()
    audit.record(session, actor, "gate.add", object_type="gate", object_id=gate.id, object_name=env.name,
                 after=gate_payload(gate, env.name))
    return gate


def update_gate(session: Session, actor: Actor, gate_id: int, spec: GateSpec,
                policy: HostPolicy | None = None) -> Gate:
    """Change every field of a gate (its environment stays), checked as `add_gate` checks them; audited with the
    gate before and after. The caller commits."""
    require(actor, "manage_catalogue")
    gate = session.get(Gate, gate_id)
    if gate is None:
        raise NotFoundError(f"There is no gate #{gate_id} (see `gates list`).")
    env = get_environment(session, gate.environment_id)
    before = gate_payload(gate, env.name)
    gate.name = _check_name(session, env, spec.name, keep=gate.id)
    _fill(gate, spec, policy)
    session.flush()
    audit.record(session, actor, "gate.update", object_type="gate", object_id=gate.id, object_name=env.name,
                 before=before, after=gate_payload(gate, env.name))
    return gate


def _check_name(session: Session, env: Environment, text: str, keep: int | None = None) -> str:
    name = (text or "").strip()
    if not _NAME.match(name) or name.lower() == "soak":
        raise ValidationError(f"{text!r} is not a gate name.",
                              hint="Letters, digits, space, '.', '_' and '-', up to 100 characters (not 'soak').")
    taken = session.scalar(select(Gate.id).where(Gate.environment_id == env.id, Gate.name == name))
    if taken is not None and taken != keep:
        raise ValidationError(f"Environment '{env.name}' already has a gate named '{name}'.")
    return name


def _fill(gate: Gate, spec: GateSpec, policy: HostPolicy | None) -> None:
    """Check every field of `spec` (ValidationError on the first wrong one) and only then write them on `gate`."""
    query = check_query(spec.query)
    success = parse_success(spec.success).text
    url = check_prometheus_url(spec.prometheus_url, policy) if spec.prometheus_url is not None else None
    if not 0 < spec.interval_seconds <= MAX_INTERVAL:
        raise ValidationError(f"The interval must be more than 0 s and at most {MAX_INTERVAL:.0f} s.")
    if not 1 <= spec.count <= MAX_COUNT:
        raise ValidationError(f"The count must be between 1 and {MAX_COUNT}.")
    if not 0 <= spec.failure_limit < spec.count:
        raise ValidationError("The failure limit must be at least 0 and less than the count (else it never fails).")
    if spec.inconclusive not in ("pass", "fail"):
        raise ValidationError("--inconclusive is pass or fail.")
    gate.source = "prometheus" if url else "rancher-monitoring"
    gate.prometheus_url = url
    gate.query, gate.success = query, success
    gate.interval_seconds, gate.count, gate.failure_limit = spec.interval_seconds, spec.count, spec.failure_limit
    gate.inconclusive = spec.inconclusive


def spec_of(gate: Gate) -> GateSpec:
    """A stored gate as the spec that would make it (the form's starting values when it is edited)."""
    return GateSpec(name=gate.name, query=gate.query, success=gate.success, prometheus_url=gate.prometheus_url,
                    interval_seconds=gate.interval_seconds, count=gate.count, failure_limit=gate.failure_limit,
                    inconclusive="pass" if gate.inconclusive == "pass" else "fail")


def list_gates(session: Session, environment: int | str | None = None) -> list[tuple[Gate, str]]:
    """Gates with their environment's name, by environment order then name."""
    query = select(Gate, Environment.name).join(Environment, Environment.id == Gate.environment_id)
    if environment is not None:
        query = query.where(Gate.environment_id == get_environment(session, environment).id)
    rows = session.execute(query.order_by(Environment.position, Environment.name, Gate.name)).all()
    return [(gate, name) for gate, name in rows]


def gates_of(session: Session, environment_id: int) -> list[Gate]:
    """One environment's gates, by name."""
    return list(session.scalars(select(Gate).where(Gate.environment_id == environment_id).order_by(Gate.name)))


def remove_gate(session: Session, actor: Actor, gate_id: int) -> Gate:
    """Remove a gate; the caller commits."""
    require(actor, "manage_catalogue")
    gate = session.get(Gate, gate_id)
    if gate is None:
        raise NotFoundError(f"There is no gate #{gate_id} (see `gates list`).")
    env = session.get(Environment, gate.environment_id)
    before = gate_payload(gate, env.name if env else "")
    session.delete(gate)
    audit.record(session, actor, "gate.remove", object_type="gate", object_id=gate_id,
                 object_name=env.name if env else "", before=before)
    return gate


def soak_setting(session: Session, environment_id: int) -> SoakSetting:
    """An environment's soak settings (zeros when never set; not added to the session)."""
    found = session.get(SoakSetting, environment_id)
    return found if found is not None else SoakSetting(environment_id=environment_id, soak_seconds=0,
                                                       min_source_soak_seconds=0)


def set_soak(session: Session, actor: Actor, environment: int | str, *, soak: str | None = None,
             min_source_soak: str | None = None) -> SoakSetting:
    """Change an environment's soak time and/or its minimum source soak (`0` turns one off); audited."""
    require(actor, "manage_catalogue")
    env = get_environment(session, environment)
    setting = session.get(SoakSetting, env.id)
    if setting is None:
        setting = SoakSetting(environment_id=env.id, soak_seconds=0, min_source_soak_seconds=0)
        session.add(setting)
    before = soak_payload(setting)
    for field, text in (("soak_seconds", soak), ("min_source_soak_seconds", min_source_soak)):
        if text is None:
            continue
        seconds = parse_duration(text, "--soak" if field == "soak_seconds" else "--min-source-soak")
        if seconds > MAX_SOAK:
            raise ValidationError("A soak time is at most 7 days.")
        setattr(setting, field, round(seconds))
    session.flush()
    audit.record(session, actor, "environment.soak", object_type="environment", object_id=env.id,
                 object_name=env.name, before=before, after=soak_payload(setting))
    return setting


def gate_payload(gate: Gate, environment: str) -> dict[str, Any]:
    """A gate as `--json` and the audit log show it."""
    return {"id": gate.id, "environment": environment, "name": gate.name, "source": gate.source,
            "prometheusUrl": gate.prometheus_url, "query": gate.query, "success": gate.success,
            "intervalSeconds": gate.interval_seconds, "count": gate.count, "failureLimit": gate.failure_limit,
            "inconclusive": gate.inconclusive}


def soak_payload(setting: SoakSetting) -> dict[str, Any]:
    """An environment's soak settings as `--json` and the audit log show them."""
    return {"soakSeconds": setting.soak_seconds or 0, "minSourceSoakSeconds": setting.min_source_soak_seconds or 0}


def checks_payload(session: Session, environment: int | str) -> dict[str, Any]:
    """What verifies a rollout into an environment: its gates and soak settings (the Verification section, the
    review of a sync into it)."""
    env = get_environment(session, environment)
    return {"environment": env.name, "gates": [gate_payload(g, env.name) for g in gates_of(session, env.id)],
            **soak_payload(soak_setting(session, env.id))}
