"""Latency statistics: percentiles of a sample, as a small dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
import math
from typing import Dict, Iterable, Optional

import numpy as np


@dataclass
class LatencyStats:
    """Summary of a latency sample, in milliseconds (None when the sample is empty)."""

    n: int
    p50_ms: Optional[float]
    p99_ms: Optional[float]
    max_ms: Optional[float]
    mean_ms: Optional[float]

    def to_dict(self) -> Dict[str, Optional[float]]:
        """Return the fields as a JSON-ready dict."""
        return asdict(self)


def _r(value: float, digits: int = 3) -> Optional[float]:
    return round(float(value), digits) if math.isfinite(value) else None


def latency_stats(seconds: Iterable[float]) -> LatencyStats:
    """
    Summarise latencies given in seconds; non-finite values are ignored.

    Percentiles use linear interpolation (numpy's default), so p99 of fewer than
    100 values lies between the two largest: with small samples it is close to
    the maximum, which is reported too.
    """
    arr = np.asarray([s for s in seconds if s is not None], dtype=float)
    arr = arr[np.isfinite(arr)] * 1e3
    if arr.size == 0:
        return LatencyStats(0, None, None, None, None)
    return LatencyStats(n=int(arr.size), p50_ms=_r(np.percentile(arr, 50)),
                        p99_ms=_r(np.percentile(arr, 99)), max_ms=_r(arr.max()),
                        mean_ms=_r(arr.mean()))


def linear_slope(x: Iterable[float], y: Iterable[float]) -> Optional[float]:
    """Return the least-squares slope of ``y`` over ``x`` (None for < 2 distinct x)."""
    xa, ya = np.asarray(list(x), float), np.asarray(list(y), float)
    if xa.size < 2 or np.ptp(xa) == 0:
        return None
    return float(np.polyfit(xa, ya, 1)[0])
