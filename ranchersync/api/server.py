"""`python -m ranchersync api [--host 127.0.0.1] [--port 8502]`: the API alone, for a separate Deployment (the same
application the dashboard's server mounts under /api/v1)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.routing import Mount

__all__ = ["build_app", "main"]


def build_app() -> Starlette:
    """The API under /api/v1, its context made from the environment on the first call."""
    from ranchersync.api.app import PROBLEM_HANDLERS, create_app

    return Starlette(routes=[Mount("/api/v1", app=create_app())], exception_handlers=PROBLEM_HANDLERS)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until stopped."""
    parser = argparse.ArgumentParser(prog="python -m ranchersync api",
                                     description="Serve the HTTP API (/api/v1) alone, for pipelines.")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8502, help="the port (default 8502; 0 picks a free one)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    import uvicorn

    from ranchersync.kernel.logs import setup_logging

    setup_logging()
    # proxy_headers off: the audited client address is the connection's own, never a header's word.
    uvicorn.run(build_app(), host=args.host, port=args.port, proxy_headers=False, server_header=False,
                log_config=None, log_level="info")  # our log format (kernel.logs); access lines carry no header
    return 0
