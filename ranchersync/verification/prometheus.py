"""Instant Prometheus queries for gates: placeholders filled in safely, the answer read within bounds.

A gate's query reaches Prometheus one of two ways: at its own URL (no credential; the installation's host policy,
an overall deadline and a size cap apply, as to Rancher calls and notifications: `security.egress`), or through
the site's Rancher proxy to rancher-monitoring with the site's token, so no second credential is needed. Whatever
goes wrong — unreachable, a query error, an answer that is not a number, an empty result — is `QueryFailed`, which
the gate counts as an `inconclusive` measurement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import requests

from ranchersync import __version__
from ranchersync.kernel.errors import RancherSyncError, ValidationError
from ranchersync.rancher import RancherClient
from ranchersync.security.egress import guarded
from ranchersync.security.host_policy import HostPolicy, HostRefused, default_policy

PLACEHOLDERS: Final = ("namespace", "service", "environment", "image")
DEADLINE: Final = 10.0  # seconds for one query, answer included: a gate measures every few seconds
MAX_ANSWER: Final = 1024 * 1024  # bytes: a gate's query returns a handful of series, not a dump
MAX_SERIES: Final = 1000
USER_AGENT: Final = f"rancher-sync-manager/{__version__}"
BATCH_LABEL: Final = "rsm_batch_query"  # the label that tells a batch's sub-queries apart in its one answer
MAX_BATCH: Final = 100  # sub-queries in one batched request (about 15 KB of PromQL, POSTed)


class QueryFailed(Exception):
    """A query that gave no usable number; the message says why (never a credential)."""


@dataclass(frozen=True)
class Subject:
    """What a query is about: the values of its placeholders."""

    namespace: str
    service: str
    environment: str
    image: str = ""

    def values(self) -> dict[str, str]:
        """Placeholder name -> value."""
        return {"namespace": self.namespace, "service": self.service, "environment": self.environment,
                "image": self.image}


def escape_label_value(value: str) -> str:
    """A value made safe inside a double-quoted PromQL string (`{namespace="…"}`): backslashes, double quotes and
    line breaks escaped, so a value can neither end the string nor add a matcher."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


def check_query(template: str) -> str:
    """A gate's query template: not empty, bounded, and every placeholder inside a double-quoted string (the only
    place its escaped value is inert: `{namespace="{namespace}"}`); ValidationError otherwise."""
    text = (template or "").strip()
    if not text:
        raise ValidationError("The query is empty.", hint='e.g. sum(rate(http_requests_total{namespace="{namespace}"'
                              ',code=~"5.."}[2m])) / sum(rate(http_requests_total{namespace="{namespace}"}[2m]))')
    if len(text) > 4000:
        raise ValidationError("The query is longer than 4000 characters.")
    if "\x00" in text:  # PostgreSQL stores no NUL in text, and PromQL has no use for one
        raise ValidationError("The query holds a NUL character.")
    quote, index = "", 0
    while index < len(text):
        char = text[index]
        if quote and char == "\\" and quote != "`":
            index += 2
            continue
        if quote and char == quote:
            quote = ""
        elif not quote and char in "\"'`":
            quote = char
        else:
            for name in PLACEHOLDERS:
                if text.startswith("{" + name + "}", index) and quote != '"':
                    raise ValidationError(
                        f"The placeholder {{{name}}} must stand inside a double-quoted label value.",
                        hint=f'Write it as a label matcher: {{{name}="{{{name}}}"}} (single quotes and backticks '
                             "cannot hold an escaped value).")
        index += 1
    if quote:
        raise ValidationError("The query has a string that is not closed.")
    return text


def render_query(template: str, subject: Subject | Mapping[str, str]) -> str:
    """The query with `{namespace}`, `{service}`, `{environment}` and `{image}` replaced by escaped values; every
    other brace is PromQL's own (label matchers) and stays as it is."""
    values = subject.values() if isinstance(subject, Subject) else dict(subject)
    query = template
    for name in PLACEHOLDERS:
        query = query.replace("{" + name + "}", escape_label_value(values.get(name, "")))
    return query


def check_prometheus_url(url: str, policy: HostPolicy | None = None) -> str:
    """A gate's Prometheus base URL, normalised; refused when it is not http(s) or its host is refused."""
    text = (url or "").strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"{url!r} is not a Prometheus URL.", hint="Give it as https://prometheus.example:9090.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError("A Prometheus URL carries no credentials, query or fragment.",
                              hint="Give the base URL only, e.g. https://prometheus.example:9090.")
    try:
        (policy or default_policy()).check_host(parts.hostname)
    except HostRefused as refused:
        raise ValidationError(str(refused)) from None
    return text


class PrometheusSource(Protocol):
    """Where a gate's queries go."""

    def query(self, promql: str) -> list[float]:
        """The values an instant query returns (one per series); raises QueryFailed."""
        ...


class DirectPrometheus:
    """A Prometheus server at its own URL, reached under the host policy, a deadline and a size cap."""

    def __init__(self, url: str, *, policy: HostPolicy | None = None, deadline: float = DEADLINE) -> None:
        self.url = url.rstrip("/")
        self._policy = policy or default_policy()
        self._deadline = deadline
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy or CA bundle from the environment steers a gate's query
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})

    def close(self) -> None:
        """Release the pooled connections."""
        self._session.close()

    def query(self, promql: str) -> list[float]:
        """The values of one instant query."""
        return values_of(self._ask(promql))

    def query_many(self, queries: Sequence[str]) -> list[list[float] | QueryFailed]:
        """The values of several instant queries, each one's or why it failed, in order: asked as few batched
        requests as PromQL allows (`batch_query`); a batch Prometheus refuses (a sub-query that is no instant
        vector, a scalar for one) is asked again one query at a time, so one gate's query never fails another's."""
        unique = list(dict.fromkeys(queries))  # two services' identical queries are asked once
        answers: dict[str, list[float] | QueryFailed] = {}
        for start in range(0, len(unique), MAX_BATCH):
            chunk = unique[start:start + MAX_BATCH]
            split: list[list[float] | QueryFailed] | None = None
            if len(chunk) > 1:
                try:
                    split = split_batch(self._ask(batch_query(chunk)), len(chunk))
                except QueryFailed:
                    split = None
            for promql, found in zip(chunk, split or [self._one(q) for q in chunk], strict=True):
                answers[promql] = found
        return [answers[q] for q in queries]

    def _one(self, promql: str) -> list[float] | QueryFailed:
        try:
            return self.query(promql)
        except QueryFailed as failed:
            return failed

    def _ask(self, promql: str) -> Any:
        """One instant query's answer as JSON (POSTed: a batch is longer than a URL should be)."""
        host = urlsplit(self.url).hostname or ""
        try:
            with guarded(self._policy, self._deadline, MAX_ANSWER):
                response = self._session.post(f"{self.url}/api/v1/query", data={"query": promql},
                                              timeout=(min(3.05, self._deadline), self._deadline))
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise QueryFailed(f"Prometheus at {host} could not be reached ({type(exc).__name__})") from None
        except requests.RequestException as exc:  # over the size cap, or not readable
            raise QueryFailed(f"Prometheus at {host} gave no usable answer ({exc})") from None
        try:
            return response.json()
        except ValueError:
            raise QueryFailed(f"Prometheus at {host} answered {response.status_code} without JSON") from None


class MonitoringThroughRancher:
    """rancher-monitoring's Prometheus in one cluster, through the site's Rancher proxy and token."""

    def __init__(self, client: RancherClient, cluster_id: str) -> None:
        self._client = client
        self._cluster_id = cluster_id

    def query(self, promql: str) -> list[float]:
        """The values of one instant query."""
        try:
            body = self._client.query_monitoring(self._cluster_id, promql)
        except RancherSyncError as exc:
            raise QueryFailed(f"rancher-monitoring in cluster {self._cluster_id}: {exc}") from None
        return values_of(body)


def batch_query(queries: Sequence[str]) -> str:
    """Several instant queries as one: each sub-query's series tagged with its position (`label_replace`, which
    PromQL allows on any instant vector), joined with `or` (the tags differ, so every series is kept)."""
    return " or ".join(f'label_replace(({q}), "{BATCH_LABEL}", "{i}", "", "")' for i, q in enumerate(queries))


def split_batch(body: Any, count: int) -> list[list[float] | QueryFailed]:
    """A batched query's answer as each sub-query's values (or, for one that returned no series, why); QueryFailed
    when the batch itself failed."""
    if not isinstance(body, dict) or body.get("status") != "success":
        values_of(body)  # raises the batch's own error
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
        raise QueryFailed("the batch did not return a vector")
    found: list[list[float] | QueryFailed] = [[] for _ in range(count)]
    for series in data["result"]:
        labels = series.get("metric") if isinstance(series, dict) else None
        tag = labels.get(BATCH_LABEL) if isinstance(labels, dict) else None
        if not isinstance(tag, str) or not tag.isdecimal() or int(tag) >= count:
            raise QueryFailed("a batched series has no sub-query tag")
        values = found[int(tag)]
        assert isinstance(values, list)
        values.append(_number(series.get("value")))
    for index, values in enumerate(found):
        if isinstance(values, list) and not values:
            found[index] = QueryFailed("the query returned no series (empty result)")
        elif isinstance(values, list) and len(values) > MAX_SERIES:
            found[index] = QueryFailed(f"the query returned more than {MAX_SERIES} series")
    return found


def values_of(body: Any) -> list[float]:
    """The numbers of an instant query's answer (vector, scalar, or a matrix's last samples); QueryFailed for an
    error answer, an empty result, or one that holds no number."""
    if not isinstance(body, dict):
        raise QueryFailed("the answer is not a Prometheus API answer")
    if body.get("status") != "success":
        error_kind = str(body.get("errorType") or "error")[:40]
        message = str(body.get("error") or "no message")[:300]
        raise QueryFailed(f"the query failed ({error_kind}): {message}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise QueryFailed("the answer has no data")
    kind, result = data.get("resultType"), data.get("result")
    samples: list[Any]
    if kind == "scalar":
        samples = [result]
    elif kind == "vector" and isinstance(result, list):
        samples = [series.get("value") if isinstance(series, dict) else None for series in result]
    elif kind == "matrix" and isinstance(result, list):
        samples = [(series.get("values") or [None])[-1] if isinstance(series, dict) else None for series in result]
    else:
        raise QueryFailed(f"the query returned a {str(kind)[:20]}, not numbers")
    if not samples:
        raise QueryFailed("the query returned no series (empty result)")
    if len(samples) > MAX_SERIES:
        raise QueryFailed(f"the query returned more than {MAX_SERIES} series")
    return [_number(sample) for sample in samples]


def _number(sample: Any) -> float:
    if not isinstance(sample, list) or len(sample) != 2:
        raise QueryFailed("a sample is not [time, value]")
    try:
        value = float(sample[1])
    except (TypeError, ValueError):
        raise QueryFailed("a sample's value is not a number") from None
    return value
