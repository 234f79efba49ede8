"""The built-in demo, started from the first-visit dialog: simulated Rancher servers and a filled catalogue."""

from __future__ import annotations

from collections.abc import Callable

from ranchersync.kernel.humanize import plural
from ui.shell import deps, queries
from ui.shell.outcome import Outcome, attempt


def demo_refusal() -> str | None:
    """Why the built-in demo cannot be started here (not installed, or a server others can reach); None if it can."""
    demo = deps.demo_module()
    if demo is None or not hasattr(demo, "start_demo"):
        return "The demo is not available in this installation."
    return demo.local_only_refusal(deps.server_address())


def start_demo(progress: Callable[[str], None] | None = None) -> Outcome:
    """Start the simulated Rancher servers and fill sites, environments and app instances."""
    refusal = demo_refusal()
    if refusal is not None:
        return Outcome(False, refusal, title="The demo cannot start here")
    demo = deps.demo_module()
    assert demo is not None

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
