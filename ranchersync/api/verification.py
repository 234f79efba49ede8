"""The HTTP API's calls for verification gates (issue 23; DESIGN.md "Verification gates, soak and promotion policy").

The same use-cases as `gates …` on the command line, with the same checks (a safe success expression, placeholders
only inside double-quoted label values, interval, count and failure limit, a Prometheus URL under the host policy or
rancher-monitoring through the site's Rancher): admins change gates, a token limited to some environments only those
of its environments (403 elsewhere), every change audited on the api channel with the caller's address. The host
policy is the server's own (`RANCHERSYNC_ALLOWED_HOSTS`, from its settings): a refused Prometheus host is refused by
its name before any lookup or connection. "Try it now" runs a gate's query once and answers the value and verdict.

app.py adds ENDPOINTS to the application and to the OpenAPI document."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final, Literal, Required, TypedDict

from ranchersync.api.call import Answer, Call, blocking
from ranchersync.api.spec import Endpoint, Param
from ranchersync.kernel.errors import ValidationError
from ranchersync.verification.gates import ExemptionPayload, GatePayload, RemovedGate

if TYPE_CHECKING:
    from ranchersync.verification.trial import Trial

__all__ = ["ENDPOINTS"]


# ---- request and answer types (the OpenAPI document is made from these) -----------------------------------------


class GateRequest(TypedDict, total=False):
    """A new gate (`gates add`): its Prometheus at `prometheusUrl`, or `rancherMonitoring` (the cluster's, through
    the site's Rancher and token) — one of the two. `interval` is a duration (10s, 1m; default 10s)."""

    environment: Required[str]  # name or id
    name: Required[str]
    query: Required[str]  # PromQL; {namespace}, {service}, {environment}, {image} inside double-quoted label values
    success: Required[str]  # a condition on result, e.g. "result < 0.05"
    prometheusUrl: str
    rancherMonitoring: bool
    interval: str
    count: int  # measurements to take (default 3)
    failureLimit: int  # failed measurements tolerated (default 0)
    inconclusive: Literal["pass", "fail"]  # how a measurement that gave no number counts (default fail)
    service: str  # for this service only: overrides the environment's gate of the same name for it


class GateChange(TypedDict, total=False):
    """A gate's fields to change (`gates update`); what is not given stays. `service` "" makes it every service's."""

    name: str
    query: str
    success: str
    prometheusUrl: str
    rancherMonitoring: bool
    interval: str
    count: int
    failureLimit: int
    inconclusive: Literal["pass", "fail"]
    service: str


class ServiceRequest(TypedDict):
    """The service an environment's gate is disabled (or enabled again) for."""

    service: str


class TryRequest(TypedDict, total=False):
    """Run a gate's query once for one service of one app instance (its namespace fills {namespace}); `instance`
    may be left out when the gate's environment has one app instance."""

    service: Required[str]
    instance: str  # name or id
    image: str  # what {image} stands for


class TrialPayload(TypedDict):
    """One trial measurement (nothing is recorded): the query sent, where, its values (a value that is no finite
    number as Prometheus spells it: "NaN", "+Inf", "-Inf"), the verdict and why."""

    gate: int
    name: str
    environment: str
    instance: str
    service: str
    query: str
    where: str
    at: str
    values: list[float | str]
    verdict: Literal["pass", "fail", "inconclusive"]
    detail: str


# ---- handlers ------------------------------------------------------------------------------------------------------


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    """A request's fields as GateSpec's, with the CLI's rules: a Prometheus URL or rancher-monitoring, not both."""
    from ranchersync.verification import gates

    url, monitoring = body.get("prometheusUrl"), body.get("rancherMonitoring", False)
    if url is not None and monitoring:
        raise ValidationError("give prometheusUrl or rancherMonitoring, not both")
    names = {"name": "name", "query": "query", "success": "success", "count": "count",
             "failureLimit": "failure_limit", "inconclusive": "inconclusive", "service": "service"}
    changes = {field: body[key] for key, field in names.items() if key in body}
    if "interval" in body:
        changes["interval_seconds"] = gates.parse_duration(body["interval"], "interval")
    if url is not None or monitoring:
        changes["prometheus_url"] = url
    return changes


async def gates_list(call: Call) -> Answer:
    from ranchersync.verification import gates

    def read() -> list[GatePayload]:
        with call.ctx.session() as session:
            return gates.gate_payloads(session, call.query.get("env"))

    return 200, await blocking(read)


async def gates_add(call: Call) -> Answer:
    from ranchersync.catalogue import environments
    from ranchersync.verification import gates

    body = call.body
    if body.get("prometheusUrl") is None and not body.get("rancherMonitoring"):
        raise ValidationError("give prometheusUrl (the Prometheus server's base URL) or \"rancherMonitoring\": true "
                              "(the cluster's, through the site's Rancher)")
    spec = gates.amended(gates.GateSpec(name=body["name"], query=body["query"], success=body["success"]),
                         _changes(body))

    def add() -> GatePayload:
        with call.ctx.session() as session:
            gate = gates.add_gate(session, call.actor, body["environment"], spec, call.ctx.host_policy())
            return gates.gate_payload(gate, environments.get_environment(session, gate.environment_id).name)

    return 201, await blocking(add)


async def gates_update(call: Call) -> Answer:
    from ranchersync.catalogue import environments
    from ranchersync.verification import gates

    gate_id, changes = call.path_id(), _changes(call.body)

    def change() -> GatePayload:
        with call.ctx.session() as session:
            gate = gates.change_gate(session, call.actor, gate_id, changes, call.ctx.host_policy())
            return gates.gate_payload(gate, environments.get_environment(session, gate.environment_id).name)

    return 200, await blocking(change)


async def gates_remove(call: Call) -> Answer:
    from ranchersync.verification import gates

    gate_id = call.path_id()

    def remove() -> RemovedGate:
        with call.ctx.session() as session:
            return gates.removed_payload(gate_id, gates.remove_gate(session, call.actor, gate_id).name)

    return 200, await blocking(remove)


def _for_service(disabled: bool) -> Any:
    async def handler(call: Call) -> Answer:
        from ranchersync.verification import gates

        gate_id = call.path_id()

        def change() -> ExemptionPayload:
            with call.ctx.session() as session:
                return gates.set_gate_for_service(session, call.actor, gate_id, call.body["service"],
                                                  disabled=disabled)

        return 200, await blocking(change)

    return handler


async def gates_try(call: Call) -> Answer:
    from ranchersync.verification import trial

    gate_id = call.path_id()
    found = await blocking(trial.try_gate, call.ctx, call.actor, gate_id, call.body.get("instance"),
                           call.body["service"], image=call.body.get("image", ""), policy=call.ctx.host_policy())
    return 200, trial_payload(gate_id, found)


def trial_payload(gate_id: int, found: Trial) -> TrialPayload:
    """A trial as the API answers it (JSON has no NaN or infinity: those values are spelt as Prometheus does)."""
    verdict: Literal["pass", "fail", "inconclusive"] = ("pass" if found.verdict == "pass" else
                                                         "fail" if found.verdict == "fail" else "inconclusive")
    return TrialPayload(gate=gate_id, name=found.gate, environment=found.environment, instance=found.instance,
                        service=found.service, query=found.query, where=found.where, at=found.at,
                        values=[_number(v) for v in found.values], verdict=verdict, detail=found.detail)


def _number(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


_ID: Final = Param("id", "integer", where="path")

ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint("GET", "/gates", "listGates", "Verification gates, per environment (`gates list`)", gates_list,
             {200: list[GatePayload]}, params=(Param("env", description="one environment: name or id"),),
             tags=("verification",)),
    Endpoint("POST", "/gates", "addGate",
             "Add a gate to an environment (admin; a limited token: one of its environments)", gates_add,
             {201: GatePayload}, body=GateRequest, tags=("verification",)),
    Endpoint("PATCH", "/gates/{id}", "updateGate", "Change a gate: what is not given stays", gates_update,
             {200: GatePayload}, params=(_ID,), body=GateChange, tags=("verification",)),
    Endpoint("DELETE", "/gates/{id}", "removeGate", "Remove a gate (and whom it was disabled for)", gates_remove,
             {200: RemovedGate}, params=(_ID,), tags=("verification",)),
    Endpoint("POST", "/gates/{id}/disable", "disableGate",
             "Do not run an environment's gate for one service (`gates disable`)", _for_service(True),
             {200: ExemptionPayload}, params=(_ID,), body=ServiceRequest, tags=("verification",)),
    Endpoint("POST", "/gates/{id}/enable", "enableGate", "Run an environment's gate for a service again",
             _for_service(False), {200: ExemptionPayload}, params=(_ID,), body=ServiceRequest,
             tags=("verification",)),
    Endpoint("POST", "/gates/{id}/try", "tryGate",
             "Run a gate's query once for one service: its values and verdict (nothing is recorded)", gates_try,
             {200: TrialPayload}, params=(_ID,), body=TryRequest, tags=("verification",)),
)
