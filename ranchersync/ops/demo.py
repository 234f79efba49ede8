"""The built-in demo: two simulated Rancher servers in the background and a catalogue that maps their namespaces.

The servers run as detached processes so they outlive a dashboard rerun or restart; `data/demo.json` remembers
their ports (never their tokens: those live encrypted in the sites table, and reach a revived server through its
environment, not its command line).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import requests
from sqlalchemy import select

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.catalogue import environments, instances, sites
from ranchersync.context import AppContext
from ranchersync.kernel.detach import command_line, process_alive, terminate
from ranchersync.kernel.errors import RancherSyncError
from ranchersync.kernel.validation import is_loopback
from ranchersync.models import Site, utcnow
from ranchersync.ops.demo_history import fill_history
from ranchersync.simulator.auth import generate_token
from ranchersync.simulator.world import DEMO_WORLD_NAMES, load_demo_world

TOKEN_ENV = "RANCHERSYNC_SIMULATOR_TOKEN"
ROLLOUT_SECONDS = 6
DEMO_SITES = {"rancher-eu": "Rancher EU", "rancher-us": "Rancher US"}
DEMO_ENVIRONMENTS = (
    ("Dev", "#009E73", "Newest builds, deployed on every merge", False),
    ("Stage", "#0072B2", "Release candidates, tested before production", False),
    ("Prod", "#D55E00", "What customers use", True),
)
_STAGE_SUFFIX = re.compile(r"^(?P<app>[a-z0-9-]+)-(?P<stage>dev|stage|prod)$")

# The demo's own changes are audited under this name, not under whoever clicked "Start the demo".
DEMO_ACTOR = Actor("demo@ranchersync.local", "admin", "system", name="Demo set-up")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoSummary:
    """What the demo set up."""

    sites: int
    environments: int
    instances: int


def state_file(ctx: AppContext) -> Path:
    """Where the demo servers' ports and process ids are kept (beside the key file, in data/)."""
    return ctx.settings.key_file.parent / "demo.json"


def start_demo(ctx: AppContext, progress: Progress | None = None, *, actor: Actor | None = None) -> DemoSummary:
    """Start both simulated servers and fill sites, environments and app instances (idempotent). Given the person
    who asked (`demo` on the command line), it needs an admin and is audited as `demo.started` in their name."""
    say = progress or (lambda _message: None)
    if actor is not None:
        require(actor, "manage_catalogue")
    ctx.upgrade_database()
    state = _read_state(ctx)
    for world in DEMO_WORLD_NAMES:
        site_name = DEMO_SITES[world]
        with ctx.session() as session:
            site = session.scalar(select(Site).where(Site.name == site_name))
            token = ctx.cipher.decrypt(site.token_encrypted) if site else generate_token()
        entry = state.get(world, {})
        url = f"http://127.0.0.1:{entry['port']}" if entry.get("port") else None
        if url is None or not _answers(url):
            say(f"Starting the simulated {site_name} server…")
            entry = _launch(ctx, world, token, entry.get("port"))
            state[world] = entry
            _write_state(ctx, state)
            url = f"http://127.0.0.1:{entry['port']}"
        with ctx.session() as session:
            connection = sites.make_connection(url, token)
            if site is None:
                say(f"Registering {site_name}…")
                info = sites.check_connection(connection)
                sites.add_site(session, ctx.cipher, actor=DEMO_ACTOR, name=site_name, connection=connection,
                               info=info)
            elif site.url != url:  # revived on another port
                sites.update_site(session, ctx.cipher, site.id, sites.SiteChange(url=url), actor=DEMO_ACTOR)
    say("Creating environments…")
    with ctx.session() as session:
        existing = {e.name for e in environments.list_environments(session)}
        for name, color, description, protected in DEMO_ENVIRONMENTS:
            if name not in existing:
                environments.add_environment(
                    session, actor=DEMO_ACTOR, name=name, color=color, description=description, protected=protected
                )
    say("Mapping namespaces to environments…")
    for world in DEMO_WORLD_NAMES:
        _map_namespaces(ctx, world)
    with ctx.session() as session:
        if fill_history(session, utcnow()):  # once: a fresh demo's charts and reports have a story to tell
            say("Writing a few weeks of sync history…")
    with ctx.session() as session:
        summary = DemoSummary(
            sites=len(sites.list_sites(session)),
            environments=len(environments.list_environments(session)),
            instances=len(instances.list_instances(session)),
        )
        if actor is not None:
            audit.record(session, actor, "demo.started", object_type="demo", object_name="demo",
                         after={"sites": summary.sites, "environments": summary.environments,
                                "instances": summary.instances})
        return summary


def ensure_demo_servers(ctx: AppContext) -> int:
    """Revive demo servers that stopped (a machine restart); returns how many were started. No demo, no-op."""
    state = _read_state(ctx)
    revived = 0
    for world, entry in state.items():
        url = f"http://127.0.0.1:{entry.get('port')}"
        if _answers(url):
            continue
        with ctx.session() as session:
            site = session.scalar(select(Site).where(Site.name == DEMO_SITES.get(world, "")))
            if site is None:
                continue
            token = ctx.cipher.decrypt(site.token_encrypted)
        state[world] = _launch(ctx, world, token, entry.get("port"))
        revived += 1
    if revived:
        _write_state(ctx, state)
    return revived


def stop_demo(ctx: AppContext, *, actor: Actor | None = None) -> int:
    """Stop the demo servers this machine started; returns how many. Given the person who asked (`demo --stop`), it
    needs an admin and is audited as `demo.stopped` in their name."""
    if actor is not None:
        require(actor, "manage_catalogue")
    state = _read_state(ctx)
    stopped = 0
    for entry in state.values():
        pid = int(entry.get("pid", 0))
        # A pid from an old state file may belong to another process by now (after a reboot): signal only our own.
        if is_demo_simulator(pid) and terminate(pid):
            stopped += 1
    state_file(ctx).unlink(missing_ok=True)
    if actor is not None:
        with ctx.session() as session:
            audit.record(session, actor, "demo.stopped", object_type="demo", object_name="demo",
                         after={"stopped": stopped})
    return stopped


def local_only_refusal(server_address: str | None) -> str | None:
    """Why the demo may not start from a dashboard listening at `server_address`; None on a loopback address.

    The demo registers sites with working tokens and starts servers on this machine: from a dashboard others can
    reach, anyone could do that (an empty address means every network interface).
    """
    if server_address and is_loopback(server_address.strip("[]")):
        return None
    where = f"on {server_address}" if server_address else "on every network interface"
    return (f"The demo runs only on a dashboard that listens on 127.0.0.1 (`make demo`); this one listens {where}, "
            "where others could reach it.")


def is_demo_simulator(pid: int) -> bool:
    """Whether `pid` is a simulated Rancher server started by this demo."""
    args = command_line(pid)
    return "ranchersync" in args and "simulate" in args and any("worlds" in arg for arg in args)


def _map_namespaces(ctx: AppContext, world: str) -> int:
    """Map every `<app>-<stage>` namespace of a demo world to the environment of that stage."""
    stage_env = {"dev": "Dev", "stage": "Stage", "prod": "Prod"}
    added = 0
    with ctx.session() as session:
        site = sites.get_site(session, DEMO_SITES[world])
        taken = {(i.cluster_id, i.namespace) for i in instances.list_instances(session)}
        for cluster in load_demo_world(world).clusters:
            for namespace in sorted({o["metadata"]["namespace"] for o in cluster.objects if _is_app(o)}):
                match = _STAGE_SUFFIX.match(namespace)
                if not match or (cluster.id, namespace) in taken:
                    continue
                placement = instances.check_placement(site, ctx.cipher, cluster.id, namespace)
                instances.add_instance(
                    session,
                    name=f"{match['app']} ({cluster.name})",
                    site=site.id,
                    environment=stage_env[match["stage"]],
                    placement=placement, actor=DEMO_ACTOR,
                )
                added += 1
    return added


def _is_app(obj: dict) -> bool:
    return obj.get("kind") != "Namespace" and bool(obj.get("metadata", {}).get("namespace"))


def _launch(ctx: AppContext, world: str, token: str, port: int | None) -> dict[str, int]:
    world_file = resources.files("ranchersync.simulator").joinpath("worlds", f"{world}.yaml")
    port = port or _free_port()
    log = ctx.settings.key_file.parent / f"demo-{world}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "ranchersync", "simulate", "--world", str(world_file), "--port", str(port),
        "--rollout-seconds", str(ROLLOUT_SECONDS),
    ]
    launched = subprocess.run(
        [sys.executable, "-m", "ranchersync.kernel.detach", str(log), *command],
        env={**os.environ, TOKEN_ENV: token},  # the token stays off the command line (and out of `ps`)
        capture_output=True, text=True, timeout=30, check=False,
    )
    if launched.returncode != 0 or not launched.stdout.strip().isdecimal():
        raise RancherSyncError(f"the simulated Rancher server '{world}' could not be launched: {launched.stderr}")
    pid = int(launched.stdout.strip())
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not _answers(url):
        if not process_alive(pid) or time.monotonic() > deadline:
            terminate(pid)
            raise RancherSyncError(f"the simulated Rancher server '{world}' did not start (see {log})")
        time.sleep(0.1)
    return {"port": port, "pid": pid}


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/ping", timeout=1).text == "pong"
    except requests.RequestException:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_state(ctx: AppContext) -> dict[str, dict[str, int]]:
    try:
        data = json.loads(state_file(ctx).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(ctx: AppContext, state: dict[str, dict[str, int]]) -> None:
    path = state_file(ctx)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))
