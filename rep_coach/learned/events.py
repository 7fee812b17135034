"""Rep-end events from the segmenter's per-sample probabilities (hysteresis).

The network is trained on the published target, "within +-0.4 s of a rep end",
so a rep end shows up as a run of high probability roughly centred on it.  A
run *starts* when the probability reaches ``on`` and ends when it falls below
``off`` (hysteresis: a probability wobbling around one threshold is one run).
Because the run is centred on the end, the end is ``end_offset_s`` after the
run's start; the event is decided as soon as that time is reached (cue delay
~0 when the run starts on time), or when the run ends earlier, provided it lasted
``min_run_s`` (rejects blips).  ``refractory_s`` suppresses a second run right
after an event (a rep takes well over a second).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np


@dataclass
class PickerConfig:
    """Thresholds of :class:`EndPicker` (defaults calibrated on training folds)."""

    on: float = 0.5
    off: float = 0.35
    end_offset_s: float = 0.4
    min_run_s: float = 0.12
    refractory_s: float = 0.8


class EndPicker:
    """Causal hysteresis peak picker over a probability stream."""

    def __init__(self, config: Optional[PickerConfig] = None) -> None:
        """Create a picker; see :class:`PickerConfig`."""
        self.config = config or PickerConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the stream."""
        self._run_start: Optional[float] = None
        self._fired = False
        self._last_end = -np.inf

    def update(self, t: np.ndarray, p: np.ndarray) -> List[Tuple[float, float]]:
        """Consume samples (times, probabilities); return ``(end, stamp)`` per decided rep."""
        cfg = self.config
        out: List[Tuple[float, float]] = []
        for ti, pi in zip(np.asarray(t, dtype=float), np.asarray(p, dtype=float)):
            if self._run_start is None:
                if pi >= cfg.on and ti - self._last_end >= cfg.refractory_s:
                    self._run_start, self._fired = ti, False
                continue
            # 1e-9: grid times are k / 100 in floating point.
            if not self._fired and ti - self._run_start >= cfg.end_offset_s - 1e-9:
                out.append(self._fire(self._run_start + cfg.end_offset_s, ti))
            if pi < cfg.off:
                if not self._fired and ti - self._run_start >= cfg.min_run_s:
                    out.append(self._fire(0.5 * (self._run_start + ti), ti))
                self._run_start = None
        return out

    def _fire(self, end: float, stamp: float) -> Tuple[float, float]:
        self._fired = True
        self._last_end = end
        return min(end, stamp), stamp
