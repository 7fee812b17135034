"""
Causal streaming resampling of an IMU stream onto a fixed-rate grid.

Every downstream stage (baseline segmenter, learned models, feature code) works
on one uniform grid, by default 100 Hz, whatever the source delivers (the
thomas2025 Trigno sensor at 370.37 Hz, live IMUs at 50-200 Hz with jitter).

The grid is absolute: its points are ``k / rate_hz`` for integer ``k`` on the
IMU's timeline, so the same samples give the same grid however they are split
into blocks.  A grid point is emitted as soon as an input sample at or after it
has arrived (linear interpolation between the two input samples around it), so
the resampler adds at most one input period of latency and never looks ahead.

Gaps: when two consecutive input samples are more than ``max_gap_s`` apart (a
stall, dropped packets) the grid points between them are *not* interpolated
(a straight line across seconds of missing motion would invent a rep or hide
one); the output simply has a hole and the grid resumes at the first grid point
after the stall.  Consumers see the hole as a step in ``t`` larger than one
period; ``gap_count`` counts them for diagnostics.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import numpy as np

from rep_coach.core.types import ImuBlock

#: Output rate of the pipeline's signal processing, Hz.
DEFAULT_RATE_HZ = 100.0
#: Longest input interval bridged by interpolation, s.
DEFAULT_MAX_GAP_S = 0.25


class StreamResampler:
    """
    Causal linear interpolation of IMU blocks onto a fixed ``rate_hz`` grid.

    ``push(block)`` returns the grid samples that became computable with the new
    input (possibly none).  Samples not strictly after the previous one are
    dropped and counted in ``dropped_count`` (duplicates from a re-sent packet,
    clock steps backwards).
    """

    def __init__(self, rate_hz: float = DEFAULT_RATE_HZ,
                 max_gap_s: float = DEFAULT_MAX_GAP_S) -> None:
        """Create a resampler; ``rate_hz`` > 0, ``max_gap_s`` > 1 / rate_hz."""
        if not (rate_hz > 0.0 and math.isfinite(rate_hz)):
            raise ValueError(f'StreamResampler: rate_hz must be > 0, got {rate_hz!r}')
        if not max_gap_s > 1.0 / rate_hz:
            raise ValueError(f'StreamResampler: max_gap_s ({max_gap_s!r}) must exceed '
                             f'one output period ({1.0 / rate_hz} s)')
        self.rate_hz = float(rate_hz)
        self.period_s = 1.0 / self.rate_hz
        self.max_gap_s = float(max_gap_s)
        self.reset()

    def reset(self) -> None:
        """Forget the stream (a new session)."""
        self._last_t: Optional[float] = None
        self._last_x = np.zeros(0)
        # Index of the next grid point to emit: its time is _next_k / rate_hz.
        self._next_k: Optional[int] = None
        self.gap_count = 0
        self.dropped_count = 0

    def push(self, block: ImuBlock) -> ImuBlock:
        """Consume input samples; return the newly computable grid samples."""
        if len(block) == 0:
            return ImuBlock.empty()
        grid, out = self.push_arrays(block.t, np.concatenate([block.accel, block.gyro], axis=1))
        return ImuBlock(grid, out[:, :3], out[:, 3:])

    def push_arrays(self, t: np.ndarray, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """
        Resample ``(N, C)`` channels ``x`` sampled at ``t``; return ``(grid_t, grid_x)``.

        The array form of :meth:`push` for consumers that need only some channels
        (the baseline segmenter resamples the gyro alone): every channel is
        interpolated independently, so the values are those :meth:`push` gives.
        One resampler must always be fed the same number of channels.
        """
        t = np.asarray(t, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        if t.size == 0:
            return np.zeros(0), np.zeros((0, x.shape[1] if x.ndim == 2 else 0))
        # Keep only samples strictly after everything seen so far (monotone input).
        prev = -math.inf if self._last_t is None else self._last_t
        if t[0] > prev and (t.size == 1 or (t[1:] > t[:-1]).all()):
            keep = None  # the usual case: already strictly increasing
        else:
            keep = t > np.maximum.accumulate(np.concatenate([[prev], t[:-1]]))
        if keep is not None:
            self.dropped_count += int((~keep).sum())
            t, x = t[keep], x[keep]
            if t.size == 0:
                return np.zeros(0), np.zeros((0, x.shape[1]))
        if self._last_t is None:
            # First sample of the stream: the grid starts at the first point >= it.
            self._next_k = int(math.ceil(t[0] * self.rate_hz - 1e-9))
        else:
            t = np.concatenate(([self._last_t], t))
            x = np.concatenate((self._last_x[None, :], x), axis=0)
        self._last_t = float(t[-1])
        self._last_x = x[-1].copy()
        last_k = int(math.floor(self._last_t * self.rate_hz + 1e-9))
        assert self._next_k is not None
        if last_k < self._next_k:
            return np.zeros(0), np.zeros((0, x.shape[1]))
        grid = np.arange(self._next_k, last_k + 1) / self.rate_hz
        self._next_k = last_k + 1
        if t.size == 1:
            # Only possible for the very first sample landing exactly on the grid.
            return grid, np.repeat(x, grid.size, axis=0)
        # Segment i spans input samples i and i+1; grid point g lies in segment idx
        # (clamped to the first/last segment: the same as np.clip, cheaper per call).
        idx = np.searchsorted(t, grid, side='right') - 1
        np.minimum(idx, t.size - 2, out=idx)
        np.maximum(idx, 0, out=idx)
        t0, t1 = t[idx], t[idx + 1]
        span = t1 - t0
        ok = span <= self.max_gap_s
        x0 = x[idx]
        if ok.all():
            w = ((grid - t0) / span)[:, None]
            return grid, x0 + (x[idx + 1] - x0) * w
        # Grid points exactly on an input sample are always fine (no bridging needed).
        ok |= (np.abs(grid - t0) <= 1e-9) | (np.abs(grid - t1) <= 1e-9)
        if not ok.all():
            # Count stalls, not grid points: one per distinct bridged segment.
            self.gap_count += int(np.unique(idx[~ok]).size)
        # Same formula as above, so a grid point's value never depends on whether a
        # stall happens to share its block (the output is independent of the split).
        w = np.clip((grid - t0) / np.where(span > 0, span, 1.0), 0.0, 1.0)[:, None]
        out = x0 + (x[idx + 1] - x0) * w
        return grid[ok], out[ok]

    @property
    def next_k(self) -> Optional[int]:
        """Grid index of the next point to emit (its time is ``next_k / rate_hz``)."""
        return self._next_k


def hop_slices(k: np.ndarray, hop: int) -> List[Tuple[int, int]]:
    """
    Cut grid indices ``k`` into hops of ``hop`` on the absolute grid; ``(i0, i1)`` pairs.

    Hop ``m`` holds grid indices ``m * hop .. m * hop + hop - 1``, so the slices do
    not depend on how the stream was split into blocks: both segmenters decide once
    per hop and give the same events however the source chunks its samples.  A
    hole in ``k`` (a stall the resampler did not bridge) also ends a slice.  The
    last hop is returned only when complete; samples after the last slice are the
    caller's to keep for the next call.
    """
    if k.size == 0:
        return []
    m = k // hop
    cuts = np.flatnonzero((m[1:] != m[:-1]) | (k[1:] - k[:-1] > 1)) + 1
    ends = cuts.tolist()
    if (int(k[-1]) + 1) % hop == 0:
        ends.append(int(k.size))  # the last hop is complete too
    return list(zip([0] + ends[:-1], ends))
