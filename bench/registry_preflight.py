"""What the registry preflight adds to a plan: 100 services over 3 registries answering in 50 ms per request.

Three small registries on 127.0.0.1 (each request waits --latency-ms before its answer) serve an OCI manifest and a
config with labels for every tag. They run in a process of their own, as a real registry does (`--in-process` puts
them in the bench's process instead: their own request handling then competes with the client's for one
interpreter, which is not what a plan meets). The plan of 100 services (each changing one image) is made without the
preflight, then with it on a cold cache (every new and current image resolved: manifest + config, two requests
each), then again within the cache's lifetime. Figures and ratios are printed side by side; nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import multiprocessing
import statistics
import threading
import time
from typing import Any

from ranchersync.inventory.reading import EnvironmentRef, InstanceRef, Service
from ranchersync.rancher import Workload, workload_status
from ranchersync.registry import RegistryAccess, ResolutionCache
from ranchersync.security.host_policy import HostPolicy
from ranchersync.sync.plan import plan_sync
from ranchersync.sync.preflight import preflight

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _config(path: str) -> bytes:
    return json.dumps({"os": "linux", "architecture": "amd64", "config": {"Labels": {
        "org.opencontainers.image.revision": hashlib.sha1(path.encode()).hexdigest(),
        "org.opencontainers.image.source": "https://github.com/acme/app"}}}).encode()


class Registry:
    """A registry that answers any tag after `latency` seconds."""

    def __init__(self, latency: float) -> None:
        configs: dict[str, bytes] = {}
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # As Go's net/http (CNCF Distribution) does: without it the body, written after the headers, waits for
            # the client's delayed ACK (tens of ms per request that no real registry adds).
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802
                time.sleep(latency)
                if "/manifests/" in self.path:
                    config = _config(self.path)
                    digest = "sha256:" + hashlib.sha256(config).hexdigest()
                    with lock:
                        configs[digest] = config
                    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [], "config": {
                        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest,
                        "size": len(config)}}).encode()
                    kind = OCI_MANIFEST
                else:
                    with lock:
                        body = configs.get(self.path.rsplit("/", 1)[-1], b"{}")
                    kind = "application/octet-stream"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _serve_elsewhere(count: int, latency: float, hosts: Any) -> None:
    registries = [Registry(latency) for _ in range(count)]
    hosts.send([r.host for r in registries])
    hosts.recv()  # until the bench is done


def _service(env: int, host: str, name: str, tag: str) -> Service:
    obj = {"kind": "Deployment", "metadata": {"name": name, "namespace": "ns", "resourceVersion": "1"},
           "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "app",
                                                                          "image": f"{host}/team/{name}:{tag}"}]}}},
           "status": {"replicas": 1, "availableReplicas": 1, "updatedReplicas": 1, "readyReplicas": 1}}
    workload = Workload.from_k8s(obj)
    ref = InstanceRef(env, f"app-{env}", env, 1, "site", True, "c-1", "c-1", f"ns-{env}")
    return Service(ref, workload, workload_status(workload))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--registries", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help="serve the registries from the bench's process")
    args = parser.parse_args()
    if args.in_process:
        hosts = [Registry(args.latency_ms / 1000).host for _ in range(args.registries)]
    else:
        mine, theirs = multiprocessing.Pipe()
        server = multiprocessing.Process(target=_serve_elsewhere, daemon=True,
                                         args=(args.registries, args.latency_ms / 1000, theirs))
        server.start()
        hosts = mine.recv()
    source, target = EnvironmentRef(1, "Stage", "#000", 0), EnvironmentRef(2, "Prod", "#000", 1)
    names = [f"svc-{i:03d}" for i in range(args.services)]
    sources = [_service(1, hosts[i % len(hosts)], n, "1.1") for i, n in enumerate(names)]
    targets = [_service(2, hosts[i % len(hosts)], n, "1.0") for i, n in enumerate(names)]
    accesses = {h: RegistryAccess(h, None, None, allow_http=True) for h in hosts}
    policy = HostPolicy()

    def plan_only() -> Any:
        return plan_sync(source, target, sources, targets)

    plain, cold, warm = [], [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        plan_only()
        plain.append(time.perf_counter() - started)
        cache = ResolutionCache()
        started = time.perf_counter()
        checked = preflight(plan_only(), accesses, cache=cache, policy=policy)
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        preflight(plan_only(), accesses, cache=cache, policy=policy)
        warm.append(time.perf_counter() - started)
        assert all(c.new_digest for i in checked.to_apply for c in i.changes), "every image resolved"
    base = statistics.median(plain)
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    requests = args.services * 2 * 2  # new and current image, manifest and config each
    where = "in the bench's process" if args.in_process else "in their own process"
    print(f"{args.services} services over {args.registries} registries ({where}), {args.latency_ms:g} ms per "
          f"request, {requests} registry requests cold (median of {args.runs})")
    print(f"plan without preflight:        {base * 1000:8.1f} ms")
    print(f"plan with preflight (cold):    {(base + cold_s) * 1000:8.1f} ms   added {cold_s * 1000:7.1f} ms   "
          f"({cold_s / (requests * args.latency_ms / 1000):.3f} of the requests one after another)")
    print(f"plan with preflight (cached):  {(base + warm_s) * 1000:8.1f} ms   added {warm_s * 1000:7.1f} ms   "
          f"(cold / cached = {cold_s / max(warm_s, 1e-9):.0f}x)")
    print("preflight added / goal 0.5 s: " f"{cold_s / 0.5:.2f}")


if __name__ == "__main__":
    main()
