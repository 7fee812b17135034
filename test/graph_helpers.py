"""Helpers shared by the tests that start the graph as processes."""

from typing import List


class Lines:
    """A text sink that keeps what the launcher printed."""

    def __init__(self) -> None:
        self.lines: List[str] = []

    def write(self, text: str) -> None:
        """Keep ``text``."""
        self.lines.append(text)

    def flush(self) -> None:
        """Do nothing (the sink is memory)."""

    def text(self) -> str:
        """Return everything written."""
        return ''.join(self.lines)
