"""
A bounded history of rows appended in small blocks, without per-append reallocation.

Streaming stages keep the last few seconds of a 100 Hz grid signal and append a
hop (about ten rows) at a time.  Growing arrays with ``np.concatenate`` copies the
whole history per append; :class:`RowHistory` instead writes the new rows into a
preallocated buffer in place and, when more than 1.25 spans are held, moves the
newest span to the front, so the copying is amortised over many appends.
"""

from __future__ import annotations

import numpy as np


class RowHistory:
    """
    The newest rows (at least ``span``) of a growing ``(n, width)`` float64 table.

    ``rows`` views the held rows, oldest first; it holds between ``span`` and
    1.25 ``span`` rows once that many were appended (more if one append was larger).
    The view is invalidated by the next :meth:`append`.
    """

    def __init__(self, span: int, width: int) -> None:
        """Keep at least the last ``span`` (> 0) rows of ``width`` columns."""
        if span <= 0 or width <= 0:
            raise ValueError(f'RowHistory: span and width must be > 0, got {span}, {width}')
        self.span = int(span)
        self._limit = self.span + self.span // 4
        self._buf = np.zeros((min(self._limit, 4096) + 64, int(width)))
        self._n = 0

    @property
    def rows(self) -> np.ndarray:
        """The held rows, oldest first (a view)."""
        return self._buf[:self._n]

    def clear(self) -> None:
        """Drop every row."""
        self._n = 0

    def append(self, *columns: np.ndarray) -> None:
        """Append ``m`` rows given as column blocks, left to right: ``(m,)`` or ``(m, k)``."""
        n, m = self._n, columns[0].shape[0]
        if n + m > self._buf.shape[0]:
            grown = np.zeros((max(2 * self._buf.shape[0], n + m), self._buf.shape[1]))
            grown[:n] = self._buf[:n]
            self._buf = grown
        rows = self._buf[n:n + m]
        col = 0
        for block in columns:
            if block.ndim == 1:
                rows[:, col] = block
                col += 1
            else:
                rows[:, col:col + block.shape[1]] = block
                col += block.shape[1]
        n += m
        if n > self._limit:
            self._buf[:self.span] = self._buf[n - self.span:n]
            n = self.span
        self._n = n
