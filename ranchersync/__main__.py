"""Entry point for `python -m ranchersync`."""

import sys

from ranchersync.cli import main

sys.exit(main())
