"""Errors and warnings of rep_coach.bagio; every message names the bag path."""

from __future__ import annotations

from pathlib import Path
from typing import Union


class BagError(Exception):
    """A bag cannot be written, read or repaired; ``path`` names the culprit."""

    def __init__(self, path: Union[str, Path], message: str) -> None:
        self.path = Path(path)
        self.message = message
        super().__init__(f'{self.path}: {message}')


class BagExistsError(BagError):
    """The bag directory exists already (bags are never overwritten)."""


class BagWriteError(BagError):
    """Writing failed: unwritable directory, disk full, I/O error."""


class BagReadError(BagError):
    """The bag is missing, its metadata.yaml is missing or garbled, or no file is readable."""


class BagRecoveryWarning(UserWarning):
    """Part of a bag was unreadable and skipped (truncated file, leftover partial chunk)."""
