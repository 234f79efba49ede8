"""What the screens' selectable tables share: a key that changes with the rows shown."""

from __future__ import annotations

import hashlib

import pandas as pd


def selection_key(prefix: str, frame: pd.DataFrame, generation: int = 0) -> str:
    """A dataframe key that changes whenever the rows shown change: a selection is by position, so it must not
    survive a filter, a refresh or a sync that puts other rows at those positions."""
    digest = hashlib.sha1("\n".join(map(str, frame.index)).encode()).hexdigest()[:12]
    return f"{prefix}_{generation}_{digest}"
