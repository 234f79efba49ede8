"""Entry point for `python -m ranchersync`."""

import sys

if sys.argv[1:2] == ["api"]:  # the HTTP API serves until stopped, beside the CLI (not one of its commands)
    from ranchersync.api.server import main as serve_api

    sys.exit(serve_api(sys.argv[2:]))

from ranchersync.cli import main  # noqa: E402 - after the dispatch: serving the API needs no parser

sys.exit(main())
