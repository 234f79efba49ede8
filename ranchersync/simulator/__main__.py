"""`python -m ranchersync.simulator …`: the same as `python -m ranchersync simulate …`."""

import sys

from .cli import main

sys.exit(main(prog="python -m ranchersync.simulator"))
