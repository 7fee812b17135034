"""Causal streaming filters used by the baseline segmenter (and reusable by others).

All filters keep their state between calls, so filtering a signal block by
block gives exactly the result of filtering it in one call: the nodes (small
blocks) and the offline evaluation (any block size) compute the same numbers.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from scipy import signal

_Filter = Callable[[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray],
                   Tuple[np.ndarray, np.ndarray]]


def _public_lfilter(b: np.ndarray, a: np.ndarray, x: np.ndarray, axis: int,
                    zi: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    return signal.lfilter(b, a, x, axis=axis, zi=zi)


def _pick_lfilter() -> _Filter:
    """Return scipy's compiled lfilter core when it matches ``lfilter`` exactly.

    ``scipy.signal.lfilter`` spends most of a 10-sample call validating its
    arguments; for float64 IIR coefficients it ends in the private
    ``_sigtools._linear_filter``.  That core is used directly when it exists and
    gives bit-identical output and state on a probe, else the public function.
    """
    try:
        from scipy.signal import _sigtools  # type: ignore[attr-defined]
        core = _sigtools._linear_filter
        b, a = signal.butter(2, 0.1, output='ba')
        x = np.sin(np.arange(40.0))[:, None] * np.array([[1.0, -2.0, 0.5]])
        zi = signal.lfilter_zi(b, a)[:, None] * x[0][None, :]
        want = signal.lfilter(b, a, x, axis=0, zi=zi)
        got = core(b, a, x, 0, zi)
        if all(np.array_equal(u, v) for u, v in zip(want, got)):
            return core
    except Exception:  # noqa: BLE001 - any mismatch or API change: use the public path
        pass
    return _public_lfilter


_LFILTER = _pick_lfilter()


class StreamingSos:
    """A causal IIR filter (second-order sections) over ``(N, C)`` blocks with state.

    The state is initialised from the first sample as a steady state (``sosfilt_zi``)
    so a constant offset at start-up (gyro bias, a resting angle) causes no transient.
    """

    def __init__(self, sos: np.ndarray, channels: int = 1) -> None:
        """Wrap ``sos`` (scipy layout) for ``channels`` parallel signals."""
        self.sos = np.asarray(sos, dtype=np.float64)
        self.channels = int(channels)
        # One section per lfilter call: lfilter's per-call overhead is a fraction of
        # sosfilt's, which matters for the many tiny blocks a live stream brings.
        self._ba = [(sec[:3], sec[3:]) for sec in self.sos]
        self._zi_unit = [signal.lfilter_zi(b, a) for b, a in self._ba]
        self._zi: Optional[List[np.ndarray]] = None

    def reset(self) -> None:
        """Forget the state; the next sample re-initialises it."""
        self._zi = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` ((N,) or (N, channels)); return the same shape."""
        x = np.asarray(x, dtype=np.float64)
        squeeze = x.ndim == 1
        y = x.reshape(x.shape[0], -1)
        if y.shape[0] == 0:
            return x.copy()
        if self._zi is None:
            # Steady state for the first sample: each section's input is y[0] times the
            # DC gains of the sections before it (1 for a low-pass, 0 for a high-pass).
            self._zi, level = [], y[0].copy()
            for (b, a), unit in zip(self._ba, self._zi_unit):
                self._zi.append(unit[:, None] * level[None, :])
                level = level * (b.sum() / a.sum())
        for k, (b, a) in enumerate(self._ba):
            y, self._zi[k] = _LFILTER(b, a, y, 0, self._zi[k])
        return y.reshape(-1) if squeeze else y


def butter_lowpass(cutoff_hz: float, fs_hz: float, order: int = 2,
                   channels: int = 1) -> StreamingSos:
    """Return a streaming Butterworth low-pass filter."""
    return StreamingSos(signal.butter(order, cutoff_hz, 'low', fs=fs_hz, output='sos'),
                        channels)


def butter_highpass(cutoff_hz: float, fs_hz: float, order: int = 1,
                    channels: int = 1) -> StreamingSos:
    """Return a streaming Butterworth high-pass filter."""
    return StreamingSos(signal.butter(order, cutoff_hz, 'high', fs=fs_hz, output='sos'),
                        channels)


class PrincipalAxis:
    """Online estimate of the dominant rotation axis of a gyro stream.

    An exponentially weighted second-moment matrix of the angular velocity is
    updated per block; its leading eigenvector is the axis the forearm mostly
    rotates about (the elbow's flexion axis in a curl).  Blocks whose RMS angular
    rate is below ``min_rate`` (rest, sensor noise) do not update it, so the
    estimate survives a long rest between sets instead of decaying into noise.
    The eigenvector's sign is kept continuous (``dot(new, old) > 0``) so that an
    angle integrated about it does not flip.
    """

    def __init__(self, tau_s: float = 6.0, min_rate: float = 0.3) -> None:
        """``tau_s``: memory of the moment matrix, s; ``min_rate``: rad/s RMS."""
        self.tau_s = float(tau_s)
        self.min_rate = float(min_rate)
        self.reset()

    def reset(self) -> None:
        """Forget the estimate."""
        self.moment = np.zeros((3, 3))
        self.weight = 0.0
        self.axis: Optional[np.ndarray] = None
        self._decay: Dict[Tuple[float, int], float] = {}

    @property
    def strength(self) -> float:
        """Share of the rotation energy about the axis, 0..1 (0 before the first update)."""
        if self.axis is None:
            return 0.0
        axis = self.axis
        return float(axis @ self.moment @ axis / max(np.trace(self.moment), 1e-12))

    def update(self, gyro: np.ndarray, dt: float) -> Optional[np.ndarray]:
        """Account for a block of ``(N, 3)`` rates sampled every ``dt``; return the axis."""
        n = gyro.shape[0]
        if n == 0:
            return self.axis
        # RMS rate: np.sqrt(np.mean(np.sum(gyro ** 2, axis=1))) without the wrappers.
        if np.sqrt(np.add.reduce(np.add.reduce(gyro * gyro, axis=1)) / n) < self.min_rate:
            return self.axis
        decay = self._decay.get((dt, n))
        if decay is None:
            decay = self._decay[(dt, n)] = np.exp(-dt * n / self.tau_s)
        self.moment = decay * self.moment + (gyro.T @ gyro) * dt
        self.weight = decay * self.weight + n * dt
        if self.axis is None:
            axis = np.linalg.eigh(self.moment)[1][:, -1]
        else:
            # The axis moves slowly: a few power iterations from the previous estimate
            # track it at a fraction of an eigendecomposition's cost, and keep its sign.
            axis = self.axis
            for _ in range(3):
                axis = self.moment @ axis
                axis = axis / max(float(np.sqrt(axis @ axis)), 1e-12)
        self.axis = axis
        return self.axis
