"""An environment's gates and soak settings: add, change, list, remove (admins, audited), and their payloads.

A gate is for every service of its environment, or for one service (`service`): a service's gate overrides the
environment's gate of the same name for that service (or adds one only it has), and an environment's gate may be
disabled for one service (an exemption). `effective_gates` resolves what runs after a service's rollout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.environments import get_environment
from ranchersync.kernel.errors import NotFoundError, ValidationError
from ranchersync.models import Environment, Gate, GateExemption, SoakSetting
from ranchersync.security.host_policy import HostPolicy
from ranchersync.verification.expressions import parse_success
from ranchersync.verification.prometheus import check_prometheus_url, check_query

_DURATION: Final = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")
MAX_COUNT: Final = 100
MAX_INTERVAL: Final = 3600.0
MAX_SOAK: Final = 7 * 24 * 3600
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
_SERVICE: Final = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")  # a Kubernetes object name


def parse_duration(text: str, what: str = "duration") -> float:
    """`90`, `10s`, `5m`, `1h30m` as seconds; ValidationError otherwise."""
    value = (text or "").strip().lower()
    match = _DURATION.match(value)
    if not value or match is None or not any(match.groups()):
        raise ValidationError(f"{what} {text!r} is not a duration.", hint="Write it as 10s, 5m, 1h or 1h30m.")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


class GatePayload(TypedDict):
    """A gate (`gates list --json`, the API): for every service of its environment (`service` null) or for one;
    `disabledFor` lists the services an environment's gate skips; `prometheusUrl` null: rancher-monitoring."""

    id: int
    environment: str
    name: str
    service: str | None
    disabledFor: list[str]
    source: str  # prometheus or rancher-monitoring
    prometheusUrl: str | None
    query: str
    success: str
    intervalSeconds: float
    count: int
    failureLimit: int
    inconclusive: str


class ExemptionPayload(TypedDict):
    """An environment's gate disabled (or run again) for one service."""

    environment: str
    name: str
    service: str
    disabled: bool


class RemovedGate(TypedDict):
    """A gate that was removed."""

    id: int
    name: str
    removed: bool


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
    service: str = ""  # "": every service of the environment; a name: that service alone (an override)


def check_service(text: str | None) -> str:
    """A service's name as gates name it ('' for none); ValidationError when it is no Kubernetes name."""
    name = (text or "").strip()
    if name and not _SERVICE.match(name):
        raise ValidationError(f"{text!r} is not a service name.",
                              hint="The workload's name: lower-case letters, digits, '-' and '.'.")
    return name


def _may_change(actor: Actor, environment: Environment | None = None) -> None:
    """Admins change gates; an actor limited to some environments (an API token) only those of its environments.
    Called once without the environment before anything is read (a viewer learns nothing about it), then with it."""
    if environment is None:
        if actor.environments is None:
            require(actor, "manage_catalogue")
        return
    require(actor, "manage_catalogue", environment=environment.name)


def get_gate(session: Session, gate_id: int) -> Gate:
    """A gate by id; NotFoundError when there is none."""
    gate = session.get(Gate, gate_id)
    if gate is None:
        raise NotFoundError(f"There is no gate #{gate_id} (see `gates list`).")
    return gate


def amended(spec: GateSpec, changes: Mapping[str, Any]) -> GateSpec:
    """`spec` with the fields given in `changes` (GateSpec's names); a field not given stays. `prometheus_url` given
    as None means rancher-monitoring."""
    unknown = set(changes) - set(GateSpec.__dataclass_fields__)
    if unknown:
        raise ValidationError(f"Not a field of a gate: {', '.join(sorted(unknown))}.")
    return replace(spec, **changes)


def add_gate(session: Session, actor: Actor, environment: int | str, spec: GateSpec,
             policy: HostPolicy | None = None) -> Gate:
    """Add a gate to an environment, every field checked first; the caller commits."""
    _may_change(actor)
    env = get_environment(session, environment)
    _may_change(actor, env)
    service = check_service(spec.service)
    name = _check_name(session, env, spec.name, service)
    gate = Gate(environment_id=env.id, name=name, service=service, created_by=actor.email)
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
    _may_change(actor)
    gate = get_gate(session, gate_id)
    env = get_environment(session, gate.environment_id)
    _may_change(actor, env)
    before = gate_payload(gate, env.name)
    old_name, old_service = gate.name, gate.service
    gate.service = check_service(spec.service)
    gate.name = _check_name(session, env, spec.name, gate.service, keep=gate.id)
    _fill(gate, spec, policy)
    if not old_service:  # the services it was disabled for follow its new name, or go when it is no longer shared
        for exemption in _exemptions(session, env.id, old_name):
            if gate.service:
                session.delete(exemption)
            else:
                exemption.gate = gate.name
    session.flush()
    audit.record(session, actor, "gate.update", object_type="gate", object_id=gate.id, object_name=env.name,
                 before=before, after=gate_payload(gate, env.name))
    return gate


def change_gate(session: Session, actor: Actor, gate_id: int, changes: Mapping[str, Any],
                policy: HostPolicy | None = None) -> Gate:
    """Change the fields of a gate given in `changes` (GateSpec's names; what is not given stays): `update_gate`
    on the gate's spec amended. The caller commits."""
    _may_change(actor)  # the role first: a viewer learns nothing about the gate
    return update_gate(session, actor, gate_id, amended(spec_of(get_gate(session, gate_id)), changes), policy)


def _check_name(session: Session, env: Environment, text: str, service: str, keep: int | None = None) -> str:
    name = (text or "").strip()
    if not _NAME.match(name) or name.lower() == "soak":
        raise ValidationError(f"{text!r} is not a gate name.",
                              hint="Letters, digits, space, '.', '_' and '-', up to 100 characters (not 'soak').")
    taken = session.scalar(select(Gate.id).where(Gate.environment_id == env.id, Gate.service == service,
                                                 Gate.name == name))
    if taken is not None and taken != keep:
        whose = f"service '{service}' of environment '{env.name}'" if service else f"Environment '{env.name}'"
        raise ValidationError(f"{whose[0].upper() + whose[1:]} already has a gate named '{name}'.")
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
                    inconclusive="pass" if gate.inconclusive == "pass" else "fail", service=gate.service or "")


def list_gates(session: Session, environment: int | str | None = None) -> list[tuple[Gate, str]]:
    """Gates with their environment's name, by environment order then name."""
    query = select(Gate, Environment.name).join(Environment, Environment.id == Gate.environment_id)
    if environment is not None:
        query = query.where(Gate.environment_id == get_environment(session, environment).id)
    rows = session.execute(query.order_by(Environment.position, Environment.name, Gate.service, Gate.name)).all()
    return [(gate, name) for gate, name in rows]


def gates_of(session: Session, environment_id: int) -> list[Gate]:
    """One environment's gates, every service's first, then each service's own, by name."""
    return list(session.scalars(select(Gate).where(Gate.environment_id == environment_id)
                                .order_by(Gate.service, Gate.name)))


def exemptions_of(session: Session, environment_id: int) -> dict[str, list[str]]:
    """The services each of the environment's gates is disabled for, by gate name."""
    found: dict[str, list[str]] = {}
    for row in session.scalars(select(GateExemption).where(GateExemption.environment_id == environment_id)
                               .order_by(GateExemption.gate, GateExemption.service)):
        found.setdefault(row.gate, []).append(row.service)
    return found


def effective_gates(session: Session, environment_id: int, service: str) -> list[Gate]:
    """The gates that run after a rollout of `service` into the environment: the environment's, each replaced by
    the service's own gate of the same name, less those disabled for it, plus the service's other gates; by name."""
    chosen: dict[str, Gate] = {}
    for gate in gates_of(session, environment_id):
        if gate.service in ("", service):
            chosen[gate.name] = gate  # the service's own come after the environment's (ordered by service)
    for name, services in exemptions_of(session, environment_id).items():
        if service in services and name in chosen and not chosen[name].service:
            del chosen[name]
    return [chosen[name] for name in sorted(chosen)]


def _exemptions(session: Session, environment_id: int, name: str) -> list[GateExemption]:
    return list(session.scalars(select(GateExemption).where(GateExemption.environment_id == environment_id,
                                                            GateExemption.gate == name)))


def no_shared_gate(environment: str, name: str) -> NotFoundError:
    """The error for an environment's gate (for every service) that is not there."""
    return NotFoundError(f"Environment '{environment}' has no gate named '{name}' for every service.")


def not_disabled(environment: str, name: str, service: str) -> NotFoundError:
    """The error for a gate that is not disabled for a service."""
    return NotFoundError(f"Gate '{name}' is not disabled for {service or '(no service)'} in {environment}.")


def disable_gate(session: Session, actor: Actor, environment: int | str, name: str, service: str) -> GateExemption:
    """Disable an environment's gate for one service (its rollouts are not measured by it); audited."""
    _may_change(actor)
    env = get_environment(session, environment)
    _may_change(actor, env)
    service = check_service(service)
    if not service:
        raise ValidationError("Name the service to disable the gate for (--service); to stop it for every "
                              "service, remove it.")
    gate = session.scalar(select(Gate).where(Gate.environment_id == env.id, Gate.service == "", Gate.name == name))
    if gate is None:
        raise no_shared_gate(env.name, name)
    if session.scalar(select(GateExemption.id).where(GateExemption.environment_id == env.id,
                                                     GateExemption.service == service, GateExemption.gate == name)):
        raise ValidationError(f"Gate '{name}' is already disabled for {service} in {env.name}.")
    exemption = GateExemption(environment_id=env.id, service=service, gate=name, created_by=actor.email)
    session.add(exemption)
    session.flush()
    audit.record(session, actor, "gate.disable", object_type="gate", object_id=gate.id, object_name=env.name,
                 after={"environment": env.name, "name": name, "service": service, "disabled": True})
    return exemption


def enable_gate(session: Session, actor: Actor, environment: int | str, name: str, service: str) -> None:
    """Run an environment's gate for a service again (undo `disable_gate`); audited."""
    _may_change(actor)
    env = get_environment(session, environment)
    _may_change(actor, env)
    service = check_service(service)
    exemption = session.scalar(select(GateExemption).where(
        GateExemption.environment_id == env.id, GateExemption.service == service, GateExemption.gate == name))
    if exemption is None:
        raise not_disabled(env.name, name, service)
    session.delete(exemption)
    audit.record(session, actor, "gate.enable", object_type="gate", object_id=exemption.id, object_name=env.name,
                 before={"environment": env.name, "name": name, "service": service, "disabled": True})


def set_gate_for_service(session: Session, actor: Actor, gate_id: int, service: str, *,
                         disabled: bool) -> ExemptionPayload:
    """Disable (or run again) an environment's gate `gate_id` for one service: `disable_gate` / `enable_gate` by the
    gate's id (the API's). A service's own gate is not disabled: it is changed or removed."""
    _may_change(actor)
    gate = get_gate(session, gate_id)
    env = get_environment(session, gate.environment_id)
    _may_change(actor, env)
    if gate.service:
        raise ValidationError(f"Gate #{gate_id} is service {gate.service}'s own gate: only an environment's gate "
                              "is disabled for a service.", hint="Change the gate or remove it instead.")
    if disabled:
        disable_gate(session, actor, env.id, gate.name, service)
    else:
        enable_gate(session, actor, env.id, gate.name, service)
    return exemption_payload(env.name, gate.name, check_service(service), disabled)


def remove_gate(session: Session, actor: Actor, gate_id: int) -> Gate:
    """Remove a gate; the caller commits."""
    _may_change(actor)
    gate = get_gate(session, gate_id)
    env = get_environment(session, gate.environment_id)
    _may_change(actor, env)
    before = gate_payload(gate, env.name)
    if not gate.service:
        for exemption in _exemptions(session, gate.environment_id, gate.name):
            session.delete(exemption)
    session.delete(gate)
    audit.record(session, actor, "gate.remove", object_type="gate", object_id=gate_id, object_name=env.name,
                 before=before)
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


def gate_payload(gate: Gate, environment: str, disabled_for: list[str] | None = None) -> GatePayload:
    """A gate as `--json` and the audit log show it (`disabledFor`: the services an environment's gate skips)."""
    return {"id": gate.id, "environment": environment, "name": gate.name, "service": gate.service or None,
            "disabledFor": list(disabled_for or []), "source": gate.source,
            "prometheusUrl": gate.prometheus_url, "query": gate.query, "success": gate.success,
            "intervalSeconds": gate.interval_seconds, "count": gate.count, "failureLimit": gate.failure_limit,
            "inconclusive": gate.inconclusive}


def gate_payloads(session: Session, environment: int | str | None = None) -> list[GatePayload]:
    """Every gate (of one environment), with the services each environment's gate is disabled for (`gates list`)."""
    found = list_gates(session, environment)
    skipped = {gate.environment_id: exemptions_of(session, gate.environment_id) for gate, _ in found}
    return [gate_payload(gate, env, [] if gate.service else skipped[gate.environment_id].get(gate.name))
            for gate, env in found]


def exemption_payload(environment: str, name: str, service: str, disabled: bool) -> ExemptionPayload:
    """A gate disabled or enabled for one service, as `gates disable|enable --json` print it."""
    return {"environment": environment, "name": name, "service": service, "disabled": disabled}


def removed_payload(gate_id: int, name: str) -> RemovedGate:
    """A removed gate, as `gates remove --json` prints it."""
    return {"id": gate_id, "name": name, "removed": True}


def soak_payload(setting: SoakSetting) -> dict[str, Any]:
    """An environment's soak settings as `--json` and the audit log show them."""
    return {"soakSeconds": setting.soak_seconds or 0, "minSourceSoakSeconds": setting.min_source_soak_seconds or 0}


def checks_payload(session: Session, environment: int | str) -> dict[str, Any]:
    """What verifies a rollout into an environment: its gates and soak settings (the Verification section, the
    review of a sync into it)."""
    env = get_environment(session, environment)
    skipped = exemptions_of(session, env.id)
    return {"environment": env.name,
            "gates": [gate_payload(g, env.name, [] if g.service else skipped.get(g.name)) for g in
                      gates_of(session, env.id)],
            **soak_payload(soak_setting(session, env.id))}


def service_gates_payload(session: Session, environment: int | str, service: str) -> list[GatePayload]:
    """The gates that will run after a rollout of `service` into the environment (the review's, per service)."""
    env = get_environment(session, environment)
    return [gate_payload(g, env.name) for g in effective_gates(session, env.id, service)]
