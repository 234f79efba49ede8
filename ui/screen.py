"""What app.py and every page call first: the shell's frame, wired with what screens offer to every page (the
first-visit dialog). Above the screens, so the shell needs none of them."""

from __future__ import annotations

from ui.catalogue import first_visit
from ui.shell import frame
from ui.shell.frame import Frame


def start(title: str, icon: str) -> Frame:
    """Set up the page: the frame, and the first-visit dialog for an admin while no Rancher site exists."""
    return frame.frame(title, icon, first_visit=first_visit.offer)
