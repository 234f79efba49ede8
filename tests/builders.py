"""Hand-built services for pure tests of the comparison and the sync plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.inventory.reading import InstanceRef, Service
from ranchersync.rancher import Workload, workload_status


def instance(env: int, name: str, instance_id: int | None = None) -> InstanceRef:
    """An app instance of environment `env`."""
    return InstanceRef(id=instance_id if instance_id is not None else abs(hash((env, name))) % 10_000, name=name,
                       environment_id=env, site_id=1, site_name="site", site_active=True, cluster_id="c-1",
                       cluster_name="cluster", namespace="ns")


def service(
    env: int,
    instance_name: str,
    name: str,
    image: str | None = None,
    *,
    kind: str = "Deployment",
    containers: dict[str, str] | None = None,
    init: dict[str, str] | None = None,
    status: str | None = None,
    paused: bool = False,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    instance_id: int | None = None,
) -> Service:
    """A running workload with the given containers (or one container `app` running `image`)."""
    pod: dict[str, Any] = {"containers": [{"name": n, "image": i} for n, i in (containers or {"app": image}).items()]}
    if init:
        pod["initContainers"] = [{"name": n, "image": i} for n, i in init.items()]
    spec: dict[str, Any] = {"replicas": 2, "paused": paused, "template": {"spec": pod}}
    if kind == "CronJob":
        spec = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}}
    obj = {
        "kind": kind,
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "7", "generation": 1,
                     "labels": labels or {}, "annotations": annotations or {}},
        "spec": spec,
        "status": {"observedGeneration": 1, "replicas": 2, "availableReplicas": 2, "updatedReplicas": 2,
                   "readyReplicas": 2},
    }
    workload = Workload.from_k8s(obj)
    return Service(instance(env, instance_name, instance_id), workload, status or workload_status(workload))  # type: ignore[arg-type]


ADMIN = Actor("admin@example.com", "admin", "cli")  # who acts in tests that are not about roles


CliRun = Callable[..., tuple[int, str, str]]


def cli_runner(ctx: AppContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    """The CLI in-process on `ctx`'s database, as the user named first: run("alice", "sync", …) → (status, out, err)."""
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", ",".join(ctx.settings.secret_keys))

    def run(user: str, *args: str) -> tuple[int, str, str]:
        from ranchersync.cli import main

        monkeypatch.setenv("RANCHERSYNC_USER", user)
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run
