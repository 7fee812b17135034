"""Errors and warnings of rep_coach.bagio; every message names the bag path."""

from __future__ import annotations

from pathlib import Path
import shlex
from typing import Union


def repair_command(bag: Union[str, Path]) -> str:
    """Return the shell command that repairs ``bag`` (for messages that advise it)."""
    return f'rep-coach repair {shlex.quote(str(bag))}'


class BagError(Exception):
    """
    A bag cannot be written, read or repaired; ``path`` names the culprit.

    ``advice`` (what would fix it, e.g. the repair command) is appended to the
    text in parentheses and kept apart from ``message``.
    """

    def __init__(self, path: Union[str, Path], message: str, advice: str = '') -> None:
        self.path = Path(path)
        self.message = message
        self.advice = advice
        super().__init__(f'{self.path}: {message}' + (f' ({advice})' if advice else ''))


class BagExistsError(BagError):
    """The bag directory exists already (bags are never overwritten)."""


class BagWriteError(BagError):
    """Writing failed: unwritable directory, disk full, I/O error."""


class BagReadError(BagError):
    """The bag is missing, its metadata.yaml is missing or garbled, or no file is readable."""


class BagRecoveryWarning(UserWarning):
    """Part of a bag was unreadable and skipped (truncated file, leftover partial chunk)."""
