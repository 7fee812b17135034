"""Mounting-invariant input channels: the forearm angle and rate of the baseline chain.

The raw 6 axes depend on how the sensor is strapped (thomas2025 subjects wear it
turned by 180 deg relative to each other).  The baseline's causal signal chain
(:class:`~rep_coach.core.segmentation.BaselineSegmenter`: principal rotation
axis, lifting sign, high-passed angle) yields ``theta`` and ``omega`` about the
elbow axis, lifting positive, whatever the mounting.  They are fed to the
segmenter as two extra channels next to the raw axes.

To be identical in training and live, the chain is fed one hop of grid samples
at a time (hops on the absolute 100 Hz grid, like the baseline's own), and a
hop's values are read right after it, with the axis known at that moment.
Before the lifting direction is known (start of a stream) the channels are 0.
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np

from rep_coach.core.segmentation import BaselineSegmenter, BaselineSegmenterConfig
from rep_coach.core.types import ImuBlock
from rep_coach.learned.preprocess import GYRO_SCALE, RATE_HZ

#: Samples per hop on the 100 Hz grid (0.1 s).
HOP = 10
#: Channels of the segmenter input: 6 raw axes + angle + rate.
N_INPUTS = 8
#: rad that maps to 1.0 for the angle channel.
THETA_SCALE = math.pi


class KinematicInput:
    """Feeds grid hops to a baseline chain; returns the two scaled channels per hop."""

    def __init__(self, set_rest_s: float = 15.0, history_s: float = 30.0) -> None:
        """Create the chain (its own rep decisions are ignored)."""
        self.chain = BaselineSegmenter(BaselineSegmenterConfig(set_rest_s=set_rest_s,
                                                               history_s=history_s))

    def reset(self) -> None:
        """Forget the stream."""
        self.chain.reset()

    def push_hop(self, hop: ImuBlock) -> np.ndarray:
        """Consume one hop of grid samples; return (2, n) scaled theta, omega."""
        self.chain.push(hop)
        t, theta, omega = self.chain.signals()
        n = len(hop)
        out = np.zeros((2, n), dtype=np.float32)
        if t.size >= n and np.isfinite(theta[-1]):
            out[0] = np.clip(theta[-n:] / THETA_SCALE, -1.0, 1.0)
            out[1] = np.clip(omega[-n:] / GYRO_SCALE, -1.0, 1.0)
        return out

    def signals(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the chain's history (t, theta, omega) for per-rep features."""
        return self.chain.signals()


def hop_slices(k: np.ndarray) -> list:
    """Cut grid indices ``k`` into hops on the absolute grid (and at holes); (i0, i1) pairs.

    Only complete hops are returned; the caller keeps the remainder.
    """
    if k.size == 0:
        return []
    hop = k // HOP
    cuts = np.flatnonzero((hop[1:] != hop[:-1]) | (k[1:] - k[:-1] > 1)) + 1
    ends = cuts.tolist()
    if (int(k[-1]) + 1) % HOP == 0:
        ends.append(int(k.size))
    out, start = [], 0
    for end in ends:
        out.append((start, end))
        start = end
    return out


def replay_channels(grid: ImuBlock, set_rest_s: float = 15.0) -> np.ndarray:
    """(2, N) channels of a whole grid recording, exactly as the live segmenter sees them."""
    kin = KinematicInput(set_rest_s=set_rest_s)
    k = np.rint(grid.t * RATE_HZ).astype(np.int64)
    out = np.zeros((2, len(grid)), dtype=np.float32)
    last = 0
    for i0, i1 in hop_slices(k):
        out[:, i0:i1] = kin.push_hop(grid.slice(i0, i1))
        last = i1
    if last < len(grid):
        out[:, last:] = kin.push_hop(grid.slice(last, None))
    return out
