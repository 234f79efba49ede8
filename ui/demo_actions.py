"""The built-in demo, started from the first-visit dialog: simulated Rancher servers and a filled catalogue."""

from __future__ import annotations

from collections.abc import Callable

from ranchersync.humanize import plural
from ui import deps, queries
from ui.outcome import Outcome, attempt


def demo_available() -> bool:
    """Whether the built-in demo can be started (its module exists)."""
    demo = deps.demo_module()
    return demo is not None and hasattr(demo, "start_demo")


def start_demo(progress: Callable[[str], None] | None = None) -> Outcome:
    """Start the simulated Rancher servers and fill sites, environments and app instances."""
    demo = deps.demo_module()
    if demo is None or not hasattr(demo, "start_demo"):
        return Outcome(False, "The built-in demo is not part of this installation.", title="No demo available")

    def work() -> Outcome:
        summary = demo.start_demo(deps.get_context(), progress=progress)
        queries.clear_rancher()
        return Outcome.done(_demo_message(summary))

    return attempt(work)


def _demo_message(summary: object) -> str:
    parts = []
    for attr, noun in (("sites", "site"), ("environments", "environment"), ("instances", "app instance")):
        value = getattr(summary, attr, None)
        number = len(value) if isinstance(value, (list, tuple)) else value
        if isinstance(number, int):
            parts.append(plural(number, noun))
    return "The demo is ready" + (f": {', '.join(parts)}." if parts else ".")
