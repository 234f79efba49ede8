"""Fill the catalogue from two simulated Rancher servers that run as services of their own (compose's `demo` profile
and the Kubernetes `demo` overlay both run this file; it lives here because kustomize only reads files below an
overlay).

`python -m ranchersync demo` starts its simulators on 127.0.0.1 inside its own process; in containers each one is a
service reached by name, so this registers them at the URLs in RANCHERSYNC_DEMO_SITES (`rancher-eu=http://…,
rancher-us=http://…`), with the token in RANCHERSYNC_SIMULATOR_TOKEN, through the CLI (the documented contract), and
maps the namespaces exactly as the built-in demo does. Run it again and nothing is added twice.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import redirect_stdout
from io import StringIO

from ranchersync.cli import main as cli
from ranchersync.context import AppContext
from ranchersync.ops import demo
from ranchersync.ops.demo import TOKEN_ENV


def _names(group: str) -> set[str]:
    out = StringIO()
    with redirect_stdout(out):
        if cli([group, "list", "--json"]) != 0:
            raise SystemExit(f"demo seed: `{group} list` failed")
    return {item["name"] for item in json.loads(out.getvalue())}


def _run(*argv: str) -> None:
    status = cli(list(argv))
    if status != 0:
        raise SystemExit(f"demo seed: `{' '.join(argv[:2])}` failed with exit status {status}")


def seed(site_urls: dict[str, str]) -> None:
    """Register the simulated sites, the demo environments and the app instances (idempotent)."""
    if os.environ.get(TOKEN_ENV, "") == "":
        raise SystemExit(f"demo seed: set {TOKEN_ENV} to the simulated servers' token")
    _run("db", "upgrade")
    known_sites = _names("sites")
    for world, url in site_urls.items():
        name = demo.DEMO_SITES[world]
        if name not in known_sites:
            # Plain http between containers of one demo network: nothing secret travels (a demo token).
            _run("sites", "add", "--name", name, "--url", url, "--token-env", TOKEN_ENV, "--allow-http")
    known_envs = _names("envs")
    for position, (name, color, description, protected) in enumerate(demo.DEMO_ENVIRONMENTS):
        if name not in known_envs:
            _run("envs", "add", "--name", name, "--color", color, "--description", description,
                 "--position", str(position), *(["--protected"] if protected else []))
    ctx = AppContext.from_env()
    for world in site_urls:
        demo._map_namespaces(ctx, world)  # the built-in demo's own mapping, so both demos show the same catalogue


def parse_sites(value: str) -> dict[str, str]:
    """`rancher-eu=http://rancher-eu:8080,rancher-us=http://rancher-us:8080` → {world: url}; worlds are checked."""
    pairs = dict(item.strip().split("=", 1) for item in value.split(",") if "=" in item)
    unknown = sorted(set(pairs) - set(demo.DEMO_SITES))
    if unknown or not pairs:
        raise SystemExit(f"demo seed: RANCHERSYNC_DEMO_SITES names {unknown or 'nothing'}; "
                         f"expected {', '.join(demo.DEMO_SITES)}")
    return pairs


if __name__ == "__main__":
    seed(parse_sites(os.environ.get("RANCHERSYNC_DEMO_SITES", "")))
    print("demo seed: the catalogue is ready", file=sys.stderr)
