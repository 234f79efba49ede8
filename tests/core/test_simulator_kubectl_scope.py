"""kubectl judges the simulator's namespace-only access: a user whose roles are bound in namespaces lists inside
them, and is refused at the cluster scope with kube-apiserver's Forbidden wording (what the inventory falls back on)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from ranchersync.simulator import SimulatedRancher
from tests.core.simulator_fixtures import CLUSTER, NS

pytest_plugins = ["tests.core.simulator_fixtures"]
pytestmark = pytest.mark.kubectl

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def test_namespace_roles_list_inside_namespaces_and_are_refused_cluster_wide(
    sim_kubectl: Kubectl, tls_sim: SimulatedRancher
) -> None:
    tls_sim.restrict_to_namespaces(CLUSTER)
    inside = sim_kubectl("get", "deployments", "-n", NS)
    assert inside.returncode == 0 and "web" in inside.stdout, inside.stderr
    everywhere = sim_kubectl("get", "deployments", "-A")
    assert everywhere.returncode == 1
    assert ('Error from server (Forbidden): deployments.apps is forbidden: User "user-' in everywhere.stderr
            and 'cannot list resource "deployments" in API group "apps" at the cluster scope' in everywhere.stderr)
    pods = sim_kubectl("get", "pods", "-A")
    assert pods.returncode == 1 and 'in API group "" at the cluster scope' in pods.stderr
    tls_sim.restrict_to_namespaces(CLUSTER, False)
    assert sim_kubectl("get", "deployments", "-A").returncode == 0
