"""kubectl judges what the simulated controllers keep: ReplicaSets by revision (`rollout history`, `rollout undo`), the
scale subresource (`scale`, `--subresource=scale`) and pods that can be watched (`get pods -w`)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable

import pytest

from ranchersync.simulator import SimulatedRancher
from tests.core.simulator_fixtures import CLUSTER, NS

pytest_plugins = ["tests.core.simulator_fixtures"]
pytestmark = pytest.mark.kubectl

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
WEB = "registry.example.com:5000/team/web"


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The output of a kubectl run that must succeed."""
    assert result.returncode == 0, result.stderr
    return result.stdout


def rolled_out(kubectl: Kubectl, workload: str) -> None:
    """Wait with `kubectl rollout status` until the workload's rollout is complete."""
    status = ok(kubectl("rollout", "status", workload, "-n", NS, "--timeout=20s"))
    assert "successfully rolled out" in status or "roll out complete" in status


def history(kubectl: Kubectl, deployment: str) -> list[str]:
    """The revisions `kubectl rollout history` lists, in its order."""
    lines = ok(kubectl("rollout", "history", f"deployment/{deployment}", "-n", NS)).splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["REVISION", "CHANGE-CAUSE"])
    return [line.split()[0] for line in lines[header + 1:] if line.strip()]


def app_images(kubectl: Kubectl, deployment: str) -> str:
    """The image of the `app` container in the Deployment's template."""
    path = "jsonpath={.spec.template.spec.containers[?(@.name=='app')].image}"
    return ok(kubectl("get", "deploy", deployment, "-n", NS, "-o", path))


def replica_sets(kubectl: Kubectl, app: str) -> dict[str, tuple[int, int]]:
    """revision → (desired, ready) of the app's ReplicaSets, from `kubectl get rs -o json`."""
    listing = json.loads(ok(kubectl("get", "rs", "-n", NS, "-l", f"app={app}", "-o", "json")))
    return {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]:
            (rs["spec"]["replicas"], rs["status"].get("readyReplicas", 0)) for rs in listing["items"]}


def test_rollout_history_lists_a_revision_per_template(sim_kubectl: Kubectl) -> None:
    assert history(sim_kubectl, "web") == ["1"]
    for version in ("1.5.0", "1.6.0"):
        ok(sim_kubectl("set", "image", "deployment/web", f"app={WEB}:{version}", "-n", NS))
        rolled_out(sim_kubectl, "deployment/web")
    assert history(sim_kubectl, "web") == ["1", "2", "3"]
    # The old ReplicaSets stay, scaled to zero; the newest runs all three pods.
    assert replica_sets(sim_kubectl, "web") == {"1": (0, 0), "2": (0, 0), "3": (3, 3)}
    second = ok(sim_kubectl("rollout", "history", "deployment/web", "-n", NS, "--revision=2"))
    assert "deployment.apps/web with revision #2" in second and f"{WEB}:1.5.0" in second
    table = ok(sim_kubectl("get", "rs", "-n", NS, "-l", "app=web")).splitlines()
    assert table[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"] and len(table) == 4
    annotations = json.loads(ok(sim_kubectl("get", "deploy", "web", "-n", NS, "-o", "json")))["metadata"]["annotations"]
    assert annotations["deployment.kubernetes.io/revision"] == "3"


def test_rollout_undo_restores_an_earlier_revision(sim_kubectl: Kubectl) -> None:
    for version in ("1.5.0", "1.6.0"):
        ok(sim_kubectl("set", "image", "deployment/web", f"app={WEB}:{version}", "-n", NS))
        rolled_out(sim_kubectl, "deployment/web")
    assert "deployment.apps/web rolled back" in ok(sim_kubectl("rollout", "undo", "deployment/web", "-n", NS,
                                                               "--to-revision=1"))
    rolled_out(sim_kubectl, "deployment/web")
    assert app_images(sim_kubectl, "web") == f"{WEB}:1.4.2"
    # Revision 1's ReplicaSet runs again, as revision 4.
    assert history(sim_kubectl, "web") == ["2", "3", "4"]
    assert replica_sets(sim_kubectl, "web") == {"2": (0, 0), "3": (0, 0), "4": (3, 3)}
    pods = ok(sim_kubectl("get", "pods", "-n", NS, "-l", "app=web", "-o",
                          "jsonpath={.items[*].spec.containers[0].image}")).split()
    assert pods == [f"{WEB}:1.4.2"] * 3
    # Without --to-revision it goes back one step.
    ok(sim_kubectl("rollout", "undo", "deployment/web", "-n", NS))
    rolled_out(sim_kubectl, "deployment/web")
    assert app_images(sim_kubectl, "web") == f"{WEB}:1.6.0"
    skipped = ok(sim_kubectl("rollout", "undo", "deployment/web", "-n", NS, "--to-revision=5"))
    assert "skipped rollback (current template already matches revision 5)" in skipped
    missing = sim_kubectl("rollout", "undo", "deployment/web", "-n", NS, "--to-revision=1")
    assert missing.returncode == 1 and "unable to find specified revision 1 in history" in missing.stderr


def test_scale_up_and_down_and_the_status_follows(sim_kubectl: Kubectl) -> None:
    assert "deployment.apps/svc-2 scaled" in ok(sim_kubectl("scale", "deployment/svc-2", "--replicas=4", "-n", NS))
    rolled_out(sim_kubectl, "deployment/svc-2")
    row = ok(sim_kubectl("get", "deploy", "svc-2", "-n", NS, "--no-headers")).split()
    assert row[1:4] == ["4/4", "4", "4"]
    assert ok(sim_kubectl("get", "pods", "-n", NS, "-l", "app=svc-2", "--no-headers")).count("Running") == 4
    assert replica_sets(sim_kubectl, "svc-2") == {"1": (4, 4)}
    scale = ok(sim_kubectl("get", "deploy", "svc-2", "-n", NS, "--subresource=scale")).splitlines()
    assert [line.split() for line in scale] == [["NAME", "DESIRED", "AVAILABLE"], ["svc-2", "4", "4"]]

    ok(sim_kubectl("scale", "deployment/svc-2", "--replicas=0", "-n", NS))
    rolled_out(sim_kubectl, "deployment/svc-2")
    stopped = json.loads(ok(sim_kubectl("get", "deploy", "svc-2", "-n", NS, "-o", "json")))
    assert stopped["spec"]["replicas"] == 0 and stopped["status"].get("replicas", 0) == 0
    assert stopped["status"]["observedGeneration"] == stopped["metadata"]["generation"] == 3
    none = sim_kubectl("get", "pods", "-n", NS, "-l", "app=svc-2")
    assert none.returncode == 0 and "No resources found" in none.stderr

    ok(sim_kubectl("scale", "statefulset/db", "--replicas=3", "-n", NS))
    rolled_out(sim_kubectl, "statefulset/db")
    names = ok(sim_kubectl("get", "pods", "-n", NS, "-l", "app=db", "-o", "name")).split()
    assert names == ["pod/db-0", "pod/db-1", "pod/db-2"]


def test_a_stale_resource_version_does_not_scale(sim_kubectl: Kubectl, tls_sim: SimulatedRancher) -> None:
    before = ok(sim_kubectl("get", "deploy", "svc-3", "-n", NS, "-o", "jsonpath={.metadata.resourceVersion}"))
    ok(sim_kubectl("patch", "deploy", "svc-3", "-n", NS, "--type=merge", "-p",
                   '{"metadata":{"labels":{"tier":"backend"}}}'))
    # kubectl reads the Scale and checks --resource-version itself before it writes.
    stale = sim_kubectl("scale", "deployment/svc-3", "--replicas=5", f"--resource-version={before}", "-n", NS)
    assert stale.returncode == 1 and f"Expected resource version to be {before}, was " in stale.stderr
    # A Scale written with a stale resourceVersion is the server's 409.
    patch = json.dumps({"metadata": {"resourceVersion": before}, "spec": {"replicas": 5}})
    conflict = sim_kubectl("patch", "deploy", "svc-3", "-n", NS, "--subresource=scale", "--type=merge", "-p", patch)
    assert conflict.returncode == 1
    assert ('Error from server (Conflict): Operation cannot be fulfilled on deployments.apps "svc-3": the object has '
            "been modified" in conflict.stderr)
    stored = tls_sim.get_object(CLUSTER, "Deployment", NS, "svc-3")
    assert stored is not None and stored["spec"]["replicas"] == 2
    current = stored["metadata"]["resourceVersion"]
    ok(sim_kubectl("scale", "deployment/svc-3", "--replicas=5", f"--resource-version={current}", "-n", NS))
    rolled_out(sim_kubectl, "deployment/svc-3")
    assert ok(sim_kubectl("get", "deploy", "svc-3", "-n", NS, "--no-headers")).split()[1] == "5/5"


class Watcher:
    """`kubectl get … -w --output-watch-events` in the background, its rows collected as kubectl prints them."""

    def __init__(self, command: tuple[list[str], dict[str, str]], *args: str) -> None:
        base, env = command
        self.rows: list[list[str]] = []
        self._changed = threading.Condition()
        self._process = subprocess.Popen([*base, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                         env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            with self._changed:
                if not line.startswith("EVENT"):
                    self.rows.append(line.split())
                self._changed.notify_all()

    def wait_until(self, done: Callable[[list[list[str]]], bool], timeout: float = 20) -> list[list[str]]:
        """The rows (EVENT, NAME, READY, STATUS, …) once `done(rows)` holds."""
        with self._changed:
            assert self._changed.wait_for(lambda: done(self.rows), timeout), self.rows
            return list(self.rows)

    def stop(self) -> None:
        """End the watch (kubectl would run until --request-timeout)."""
        self._process.terminate()
        self._process.wait(10)
        self._reader.join(10)
        if self._process.stdout is not None:
            self._process.stdout.close()


def test_pod_watch_shows_the_new_pods_of_a_rollout(
    sim_kubectl: Kubectl, kubectl_command: tuple[list[str], dict[str, str]]
) -> None:
    old = {n.removeprefix("pod/") for n in ok(sim_kubectl("get", "pods", "-n", NS, "-l", "app=svc-4", "-o",
                                                           "name")).split()}
    assert len(old) == 2
    watcher = Watcher(kubectl_command, "get", "pods", "-n", NS, "-l", "app=svc-4", "-w", "--output-watch-events",
                      "--request-timeout=60s")
    try:
        watcher.wait_until(lambda rows: len(rows) == 2)  # the list the watch starts from
        ok(sim_kubectl("set", "image", "deployment/svc-4", "app=nginx:1.28.0", "-n", NS))
        rolled_out(sim_kubectl, "deployment/svc-4")
        new = {n.removeprefix("pod/") for n in ok(sim_kubectl("get", "pods", "-n", NS, "-l", "app=svc-4", "-o",
                                                               "name")).split()}
        rows = watcher.wait_until(lambda rows: {r[1] for r in rows if r[0] == "DELETED"} == old)
    finally:
        watcher.stop()
    assert len(new) == 2 and not old & new
    for name in old:
        assert [row[0] for row in rows if row[1] == name] == ["ADDED", "DELETED"]
    # Each new pod first appears while its container starts, then turns Running.
    for name in new:
        events = [(row[0], row[3]) for row in rows if row[1] == name]
        assert events[0] == ("ADDED", "ContainerCreating") and events[-1] == ("MODIFIED", "Running"), events
