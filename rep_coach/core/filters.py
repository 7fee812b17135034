"""Causal streaming filters used by the baseline segmenter (and reusable by others).

All filters keep their state between calls, so filtering a signal block by
block gives exactly the result of filtering it in one call: the nodes (small
blocks) and the offline evaluation (any block size) compute the same numbers.
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np
from scipy import signal


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
            y, self._zi[k] = signal.lfilter(b, a, y, axis=0, zi=self._zi[k])
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
        self.strength = 0.0  # share of the rotation energy about the axis, 0..1

    def update(self, gyro: np.ndarray, dt: float) -> Optional[np.ndarray]:
        """Account for a block of ``(N, 3)`` rates sampled every ``dt``; return the axis."""
        n = gyro.shape[0]
        if n == 0 or np.sqrt(np.mean(np.sum(gyro ** 2, axis=1))) < self.min_rate:
            return self.axis
        decay = np.exp(-dt * n / self.tau_s)
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
        self.strength = float(axis @ self.moment @ axis / max(np.trace(self.moment), 1e-12))
        return self.axis
