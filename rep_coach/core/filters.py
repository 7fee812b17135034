"""
Causal streaming filters used by the baseline segmenter (and reusable by others).

All filters keep their state between calls, so filtering a signal block by
block gives the result of filtering it in one call (to rounding, ~1e-15): the
nodes (one sample per call) and the offline evaluation (small blocks) compute
the same numbers.

numpy only, on purpose: ``scipy.signal`` costs a node process ~60 MB of memory
for two second-order filters.  The Butterworth design is scipy's (analog
prototype, pre-warped bilinear transform, gain in the first section) and the
tests compare coefficients and outputs with ``scipy.signal``.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

import numpy as np

#: Blocks up to this many samples are filtered by one matrix product per section;
#: longer ones in chunks of this size (the matrix grows as its square).  128 covers
#: the evaluation's 1 s blocks at 100 Hz in one product.
_MAX_BLOCK = 128
#: Matrices kept, shared by every filter with the same coefficients (the evaluation
#: builds fresh stages per recording).  Bounded, so a node that sees blocks of many
#: lengths (bursts after stalls) does not grow: at most ~4 MB even if all are long.
_CACHE_SIZE = 32
_matrix_cache: Dict[Tuple[bytes, int], np.ndarray] = {}


def butter_sos(order: int, cutoff_hz: float, fs_hz: float, btype: str = 'low') -> np.ndarray:
    """
    Return a digital Butterworth filter as second-order sections (scipy's layout).

    As ``scipy.signal.butter(order, cutoff_hz, btype, fs=fs_hz, output='sos')``:
    rows ``[b0, b1, b2, 1, a1, a2]``, the gain in the first section, sections
    ordered with the poles closest to the unit circle last.
    """
    if order < 1:
        raise ValueError(f'filter order must be >= 1, got {order}')
    if btype not in ('low', 'high'):
        raise ValueError(f"btype must be 'low' or 'high', got {btype!r}")
    wn = 2.0 * cutoff_hz / fs_hz
    if not 0.0 < wn < 1.0:
        raise ValueError(f'cutoff {cutoff_hz} Hz must be between 0 and fs/2 = {fs_hz / 2} Hz')
    # Analog prototype (poles on the left unit half circle), frequency pre-warped for
    # the bilinear transform at fs = 2 (frequencies as fractions of Nyquist).
    proto = -np.exp(1j * np.pi * np.arange(-order + 1, order, 2) / (2 * order))
    warped = 4.0 * np.tan(np.pi * wn / 2.0)
    if btype == 'low':
        poles, zeros_at, gain = warped * proto, -1.0, warped ** order
    else:
        poles, zeros_at = warped / proto, 1.0
        gain = float(np.real(1.0 / np.prod(-proto)))
    # Bilinear transform (2 * fs = 4): analog zeros at infinity (low-pass) or 0 (high-pass)
    # land at z = -1 or z = +1.
    z_poles = (4.0 + poles) / (4.0 - poles)
    if btype == 'low':
        gain = gain * float(np.real(1.0 / np.prod(4.0 - poles)))
    else:
        gain = gain * float(np.real(4.0 ** order / np.prod(4.0 - poles)))
    # One section per conjugate pair, plus one for the real pole of an odd order.
    upper = z_poles[z_poles.imag > 1e-12]
    real = z_poles[np.abs(z_poles.imag) <= 1e-12].real
    sections: List[Tuple[float, np.ndarray]] = []
    for pole in upper:
        a = np.array([1.0, -2.0 * pole.real, abs(pole) ** 2])
        b = np.array([1.0, -2.0 * zeros_at, 1.0])
        sections.append((abs(1.0 - abs(pole)), np.concatenate((b, a))))
    for pole in real:
        sections.append((abs(1.0 - abs(pole)),
                         np.array([1.0, -zeros_at, 0.0, 1.0, -pole, 0.0])))
    # Farthest from the unit circle first, as scipy orders them.
    sos = np.array([row for _, row in sorted(sections, key=lambda item: -item[0])])
    sos[0, :3] *= gain
    return sos


def lfilter_zi(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """
    Return the steady-state (step response) state of a direct-form II transposed filter.

    As ``scipy.signal.lfilter_zi``: the state for which a constant input of 1
    gives a constant output from the first sample on.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    b, a = b / a[0], a / a[0]
    n = max(len(a), len(b))
    a = np.concatenate((a, np.zeros(n - len(a))))
    b = np.concatenate((b, np.zeros(n - len(b))))
    # (I - A) zi = B with A the transposed companion matrix of a.
    companion_t = np.zeros((n - 1, n - 1))
    companion_t[:, 0] = -a[1:]
    companion_t[np.arange(n - 2), np.arange(1, n - 1)] = 1.0
    return np.linalg.solve(np.eye(n - 1) - companion_t, b[1:] - a[1:] * b[0])


class _Section:
    """
    One second-order section with its state, applied to a block by one matrix product.

    With ``x`` the block (n, C) and ``z`` the direct-form II transposed state (2, C),
    the outputs and the next state are linear in both: ``[y; z'] = M_n @ [x; z]``.
    ``M_n`` is built once per block length by running the recursion itself on unit
    inputs, so it holds exactly the filter's impulse and state responses.  Blocks
    longer than ``_MAX_BLOCK`` go through in chunks.
    """

    def __init__(self, b: np.ndarray, a: np.ndarray) -> None:
        self.b, self.a = b, a
        self.zi_unit = lfilter_zi(b, a)
        self.z: Optional[np.ndarray] = None           # (2, C)
        self._key = np.concatenate((b, a)).tobytes()
        # This filter's own references: the hot lengths without a shared-cache lookup.
        self._matrices: Dict[int, np.ndarray] = {}
        # [x; z] is assembled in a reused buffer: cheaper than concatenating per call.
        self._buffers: Dict[Tuple[int, int], np.ndarray] = {}

    def _recurse(self, x: np.ndarray, z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Run the textbook recursion (lfilter's) on (n, k) inputs; return (y, final state)."""
        (b0, b1, b2), (_, a1, a2) = self.b, self.a
        y = np.empty_like(x)
        z0, z1 = z[0].copy(), z[1].copy()
        for i in range(x.shape[0]):
            out = b0 * x[i] + z0
            z0 = b1 * x[i] - a1 * out + z1
            z1 = b2 * x[i] - a2 * out
            y[i] = out
        return y, np.stack((z0, z1))

    def matrix(self, n: int) -> np.ndarray:
        """Return ``M_n`` ((n + 2) x (n + 2)), building it on first use."""
        m = _matrix_cache.get((self._key, n))
        if m is None:
            # Column j: the response to a unit value of input j (then of each state).
            unit = np.eye(n + 2)
            y, z = self._recurse(unit[:n], unit[n:])
            m = np.vstack((y, z))
            if len(_matrix_cache) >= _CACHE_SIZE:
                _matrix_cache.pop(next(iter(_matrix_cache)))   # the oldest
            _matrix_cache[(self._key, n)] = m
        if len(self._matrices) >= 4:
            self._matrices.clear()
        self._matrices[n] = m
        return m

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` (n, C) on from the state; return the outputs (a new array)."""
        n = x.shape[0]
        if n > _MAX_BLOCK:
            return np.concatenate([self(x[i:i + _MAX_BLOCK]) for i in range(0, n, _MAX_BLOCK)])
        m = self._matrices.get(n)
        if m is None:
            m = self.matrix(n)
        buf = self._buffers.get(x.shape)
        if buf is None:
            if len(self._buffers) >= 4:     # bounded, as the matrices
                self._buffers.clear()
            buf = self._buffers[x.shape] = np.empty((n + 2, x.shape[1]))
        buf[:n] = x
        buf[n:] = self.z
        out = np.dot(m, buf)
        self.z = out[n:]
        return out[:n]


class StreamingSos:
    """
    A causal IIR filter (second-order sections) over ``(N, C)`` blocks with state.

    The state is initialised from the first sample as a steady state (``sosfilt_zi``)
    so a constant offset at start-up (gyro bias, a resting angle) causes no transient.
    """

    def __init__(self, sos: np.ndarray, channels: int = 1) -> None:
        """Wrap ``sos`` (scipy layout) for ``channels`` parallel signals."""
        self.sos = np.asarray(sos, dtype=np.float64)
        self.channels = int(channels)
        for row in self.sos:
            if row[3] != 1.0:
                raise ValueError(f'second-order sections need a0 = 1, got {row[3]}')
        self._sections = [_Section(sec[:3], sec[3:]) for sec in self.sos]
        self._started = False

    def reset(self) -> None:
        """Forget the state; the next sample re-initialises it."""
        self._started = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` ((N,) or (N, channels)); return the same shape."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] == 0:
            return x.copy()
        squeeze = x.ndim == 1
        y = x.reshape(x.shape[0], -1) if x.ndim != 2 else x
        if not self._started:
            # Steady state for the first sample: each section's input is y[0] times the
            # DC gains of the sections before it (1 for a low-pass, 0 for a high-pass).
            self._started, level = True, y[0].copy()
            for section in self._sections:
                section.z = section.zi_unit[:, None] * level[None, :]
                level = level * (section.b.sum() / section.a.sum())
        for section in self._sections:
            y = section(y)
        return y.reshape(-1) if squeeze else y


def butter_lowpass(cutoff_hz: float, fs_hz: float, order: int = 2,
                   channels: int = 1) -> StreamingSos:
    """Return a streaming Butterworth low-pass filter."""
    return StreamingSos(butter_sos(order, cutoff_hz, fs_hz, 'low'), channels)


def butter_highpass(cutoff_hz: float, fs_hz: float, order: int = 1,
                    channels: int = 1) -> StreamingSos:
    """Return a streaming Butterworth high-pass filter."""
    return StreamingSos(butter_sos(order, cutoff_hz, fs_hz, 'high'), channels)


class PrincipalAxis:
    """
    Online estimate of the dominant rotation axis of a gyro stream.

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
        if math.sqrt(float(np.add.reduce(np.add.reduce(gyro * gyro, axis=1))) / n) < self.min_rate:
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
                axis = axis / max(math.sqrt(float(axis @ axis)), 1e-12)
        self.axis = axis
        return self.axis
