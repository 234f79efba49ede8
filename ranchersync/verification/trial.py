"""Try a gate now: its query run once, for one service of one app instance of its environment, and the verdict its
success expression gives — what a rollout's measurement would say, without a rollout (the dashboard's "Try it now").

Nothing is recorded: a trial is a read. It takes the same path as a measurement (the same source, placeholders,
deadline, caps and host policy), so a gate that answers here answers after a rollout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ranchersync.access.identity import Actor, require
from ranchersync.catalogue.sites import ClientFactory
from ranchersync.context import AppContext
from ranchersync.inventory.listing import client_pool
from ranchersync.inventory.reading import instance_refs, site_connections
from ranchersync.inventory.refs import InstanceRef
from ranchersync.kernel.errors import NotFoundError, ValidationError
from ranchersync.models import Environment, Gate, utcnow
from ranchersync.rancher import RancherClient
from ranchersync.security.host_policy import HostPolicy
from ranchersync.verification.expressions import parse_success
from ranchersync.verification.gates import check_service
from ranchersync.verification.prometheus import (
    DirectPrometheus,
    MonitoringThroughRancher,
    PrometheusSource,
    QueryFailed,
    Subject,
    render_query,
)

Say = Callable[[str], None]
MAX_IMAGE: Final = 1000  # characters of what {image} stands for: a reference with a digest is far shorter


@dataclass(frozen=True)
class Trial:
    """One trial measurement: the query sent, its values, the verdict and why (an inconclusive one's error)."""

    gate: str
    query: str
    where: str  # the Prometheus's host, or "rancher-monitoring in <cluster>"
    at: str  # ISO time of the answer
    values: tuple[float, ...]
    verdict: str  # pass, fail or inconclusive
    detail: str
    instance: str = ""  # the app instance whose namespace filled {namespace}
    service: str = ""
    environment: str = ""


def try_gate(ctx: AppContext, actor: Actor, gate_id: int, instance: int | str | None, service: str, *,
             image: str = "", factory: ClientFactory = RancherClient, say: Say = lambda _line: None,
             policy: HostPolicy | None = None) -> Trial:
    """Run gate `gate_id`'s query once for `service` in app instance `instance` (of the gate's environment; its id or
    name; None: the environment's only one). `policy` is the host policy a Prometheus URL is reached under."""
    if actor.environments is None:
        require(actor, "sync")  # the role first: a viewer learns nothing about the gate
    name = check_service(service)
    if not name:
        raise ValidationError("Name the service to try the gate on (its {service}).")
    if len(image) > MAX_IMAGE:
        raise ValidationError(f"The image is longer than {MAX_IMAGE} characters.")
    with ctx.session() as session:
        gate = session.get(Gate, gate_id)
        if gate is None:
            raise NotFoundError(f"There is no gate #{gate_id} (see `gates list`).")
        env = session.get(Environment, gate.environment_id)
        if env is None:
            raise NotFoundError(f"There is no gate #{gate_id} (see `gates list`).")
        # Who may run syncs into an environment may see what its gates would say (a limited token: its own).
        require(actor, "sync", environment=env.name)
        ref = _pick(instance_refs(session, [gate.environment_id]), instance, env.name)
        rule = (gate.name, gate.prometheus_url, gate.query, parse_success(gate.success))
        connections = site_connections(session, ctx.cipher, [ref.site_id]) if not gate.prometheus_url else {}
        environment = env.name
    gate_name, url, template, success = rule
    query = render_query(template, Subject(ref.namespace, name, environment, image))
    where = (url.split("//", 1)[-1].split("/", 1)[0] if url else f"rancher-monitoring in {ref.cluster_name}")
    say(f"Querying {where}…")
    values: list[float] = []
    with client_pool(connections, factory) as pool:
        source: PrometheusSource = (DirectPrometheus(url, policy=policy) if url
                                    else MonitoringThroughRancher(pool.client(ref), ref.cluster_id))
        try:
            values = source.query(query)
        except QueryFailed as error:
            verdict, detail = "inconclusive", str(error)
        else:
            verdict = "pass" if success.holds(values) else "fail"
            detail = f"{success.text}: " + (", ".join(f"{v:.4g}" for v in values))
        finally:
            if isinstance(source, DirectPrometheus):
                source.close()
    say(f"{verdict}: {detail}")
    return Trial(gate_name, query, where, utcnow().isoformat(), tuple(values), verdict, detail, ref.name, name,
                 environment)


def _pick(refs: list[InstanceRef], instance: int | str | None, environment: str) -> InstanceRef:
    """The app instance a trial fills {namespace} from: by id or name, or the environment's only one."""
    if instance is None or (isinstance(instance, str) and not instance.strip()):
        if len(refs) == 1:
            return refs[0]
        if not refs:
            raise ValidationError(f"{environment} has no app instance: the query needs a namespace to fill in.")
        raise ValidationError(f"{environment} has several app instances: name one "
                              f"({', '.join(r.name for r in refs)}).")
    wanted = instance.strip() if isinstance(instance, str) else instance
    found = next((r for r in refs if r.id == wanted or r.name == wanted or str(r.id) == wanted), None)
    if found is None:
        raise NotFoundError("That app instance is not in the gate's environment.")
    return found
