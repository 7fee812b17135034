"""
Baseline rep segmenter: valleys of the forearm's rotation angle, causal and streaming.

Signal chain (all causal, state kept across ``push`` calls, 100 Hz grid):

1. :class:`~rep_coach.core.resample.StreamResampler` puts any input rate on a
   100 Hz grid; a stall (> 0.25 s without samples) restarts the filters.
2. The gyro is low-passed (Butterworth, ``lowpass_hz``): a curl's motion is
   below ~1.5 Hz, tremor and strap vibration above.
3. :class:`~rep_coach.core.filters.PrincipalAxis` tracks the dominant rotation
   axis (the elbow's flexion axis seen by the wrist IMU) from a running
   second-moment matrix of the gyro over the last ``axis_tau_s`` seconds.
4. The gyro is integrated to a 3-D rotation vector and high-passed
   (``highpass_hz``) to remove gyro-bias drift; its projection on the axis is
   the forearm angle ``theta``; the projected rate is ``omega``.
5. Lifting direction: a set starts with the arm hanging, so the first
   excursion of ``direction_rad`` (about half a curl's ~2 rad range of motion)
   away from the running extreme is the concentric; its sign makes lifting
   positive for the rest of the stream (the axis's sign is kept continuous).
   ``lift_sign`` = +-1 skips this when the mounting is known.
6. A hysteresis extremum tracker alternates between seeking a valley (arm
   extended) and a peak (top of the concentric).  A valley is confirmed when
   ``theta`` has risen ``hysteresis_rad`` above the running minimum, or when a
   rep is pending and the minimum has not moved for ``flat_s`` (the arm rests
   at the bottom after the last rep).  A peak is confirmed symmetrically.
   A valley that closes valley -> peak -> valley with ``min_rom_rad`` both ways
   and a duration in [``min_rep_s``, ``max_rep_s``] is a rep, emitted at once.
7. Sets: a rep starting ``set_rest_s`` or more after the previous rep's end
   opens a new set (:func:`~rep_coach.core.types.opens_new_set`, the learned
   segmenter's rule too).
8. Every event carries the rep's raw 6-axis signal (``RepEvent.signal``), cut
   by :class:`~rep_coach.core.rep_signal.RepSignalBuffer` from the same grid (the
   resampler interpolates all six axes; the gyro drives steps 2-6).

Decisions are taken once per hop of ``hop_s`` (0.1 s) on the absolute 100 Hz
grid, however the input is split into ``push`` calls (the nodes push every IMU
message, the evaluation pushes 0.05 s blocks; both give identical events); the
event's ``stamp`` is the grid sample at which the confirming condition first
held, or the hop's last grid sample if later.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import List, Optional, Tuple

import numpy as np

from rep_coach.core.filters import butter_highpass, butter_lowpass, PrincipalAxis
from rep_coach.core.history import RowHistory
from rep_coach.core.rep_features import rep_kinematics, SetFeatureTracker
from rep_coach.core.rep_signal import RepSignalBuffer
from rep_coach.core.resample import hop_slices, StreamResampler
from rep_coach.core.types import ImuBlock, opens_new_set, RepEvent, SET_REST_S

_SEEK_VALLEY = 0
_SEEK_PEAK = 1


@dataclass
class BaselineSegmenterConfig:
    """
    Parameters of :class:`BaselineSegmenter` (ROS parameters of ``rep_segmenter``).

    Defaults come from the biomechanics of a dumbbell curl (range of motion
    ~2 rad, rep 1.5-6 s), not from fitting the evaluation data; see
    ``docs/evaluation.md`` for how they were checked.
    """

    rate_hz: float = 100.0        # processing grid, Hz
    max_gap_s: float = 0.25       # longer input gaps restart the filters
    lowpass_hz: float = 3.0       # gyro low-pass cut-off, Hz (2nd-order Butterworth)
    highpass_hz: float = 0.05     # angle drift removal, Hz (1st order, tau ~3 s)
    axis_tau_s: float = 6.0       # memory of the principal-axis estimate, s
    axis_min_rate: float = 0.3    # blocks below this RMS rate (rad/s) do not move the axis
    lift_sign: int = 0            # 0: detect lifting direction; +1/-1: fixed
    direction_rad: float = 1.0    # excursion that decides the lifting direction, rad
    hysteresis_rad: float = 0.3   # rise/fall confirming a valley/peak, rad (~17 deg)
    flat_s: float = 0.5           # a pending rep's valley is also confirmed after this still
    still_rate: float = 0.25      # |omega| below this (rad/s) is still: a rep starts after
    min_rom_rad: float = 0.6      # minimum concentric and eccentric range, rad (~35 deg)
    min_rep_s: float = 0.8        # shortest rep, s
    max_rep_s: float = 10.0       # longest rep, s
    set_rest_s: float = SET_REST_S  # rest (a rep's end to the next's start) opening a set, s
    history_s: float = 30.0       # signal kept for features and late direction decision, s
    hop_s: float = 0.1            # decision period: the grid is processed in hops of this, s

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistent parameter."""
        if not (math.isfinite(self.hop_s) and 0.0 <= self.hop_s <= 0.1):
            raise ValueError(f'BaselineSegmenterConfig.hop_s must be in [0, 0.1] '
                             f'(decisions at >= 10 Hz), got {self.hop_s!r}')
        positive = ('rate_hz', 'max_gap_s', 'lowpass_hz', 'highpass_hz', 'axis_tau_s',
                    'direction_rad', 'hysteresis_rad', 'flat_s', 'min_rom_rad', 'min_rep_s',
                    'max_rep_s', 'set_rest_s', 'history_s')
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f'BaselineSegmenterConfig.{name} must be > 0, got {value!r}')
        if self.lift_sign not in (-1, 0, 1):
            raise ValueError(f'BaselineSegmenterConfig.lift_sign must be -1, 0 or 1, '
                             f'got {self.lift_sign!r}')
        if self.lowpass_hz >= self.rate_hz / 2:
            raise ValueError('BaselineSegmenterConfig.lowpass_hz must be below rate_hz / 2')
        if self.min_rep_s >= self.max_rep_s:
            raise ValueError('BaselineSegmenterConfig.min_rep_s must be below max_rep_s')
        if self.history_s < self.max_rep_s + self.flat_s:
            raise ValueError('BaselineSegmenterConfig.history_s must exceed max_rep_s')


class _History:
    """
    Fixed-span history of the processed 100 Hz signals (t, rotation vector, rate).

    A :class:`~rep_coach.core.history.RowHistory` of 7 columns; ``t``, ``rot`` and
    ``rate`` are views of the held rows, refreshed by ``append``.
    """

    def __init__(self, span_samples: int) -> None:
        self._rows = RowHistory(span_samples, 7)
        self._views()

    def _views(self) -> None:
        rows = self._rows.rows
        self.t = rows[:, 0]
        self.rot = rows[:, 1:4]
        self.rate = rows[:, 4:7]

    def append(self, t: np.ndarray, rot: np.ndarray, rate: np.ndarray) -> None:
        self._rows.append(t, rot, rate)
        self._views()


class BaselineSegmenter:
    """Streaming rep segmenter on the forearm's principal-axis angle (see module doc)."""

    def __init__(self, config: Optional[BaselineSegmenterConfig] = None) -> None:
        """Create the segmenter; ``config`` defaults to :class:`BaselineSegmenterConfig`."""
        self.config = config or BaselineSegmenterConfig()
        self.config.validate()
        self._set_index = 0
        self.reset()

    # -- public API ---------------------------------------------------------------------------
    def resume(self) -> None:
        """
        Go on after a hole in the same stream: as :meth:`reset`.

        The integrated angle and its principal axis cannot be carried over a hole (the
        rotation during it is unknown); the set numbering restarts with the next rep.
        """
        self.reset()

    def reset(self) -> None:
        """
        Forget the stream (a new session, or a jump of the sensor clock).

        Set numbers keep rising across a reset: a consumer (the coach) must never see
        a finished set's numbers again, or it takes the new reps for repeats.
        """
        c = self.config
        self._dt = 1.0 / c.rate_hz
        self._resampler = StreamResampler(c.rate_hz, c.max_gap_s)
        self._axis = PrincipalAxis(c.axis_tau_s, c.axis_min_rate)
        self._history = _History(int(round(c.history_s * c.rate_hz)))
        self._sign = int(c.lift_sign)
        self._rep_in_set = 0
        self._last_rep_end: Optional[float] = None
        self._features = SetFeatureTracker()
        self._rate = float(c.rate_hz)
        self._hop = max(1, int(round(c.hop_s * c.rate_hz)))  # grid samples per hop
        self._pending_t: List[np.ndarray] = []
        self._pending_accel: List[np.ndarray] = []
        self._pending_gyro: List[np.ndarray] = []
        # The raw 6-axis grid, for the signal every RepEvent carries to stage 2.
        self._signal = RepSignalBuffer(rate_hz=c.rate_hz)
        self._due_k: Optional[int] = None  # last grid index of the hop being filled
        self._grid_t = np.zeros(0)
        self._grid_gyro = np.zeros((0, 3))
        self._grid_k = np.zeros(0, dtype=np.int64)
        self._last_k: Optional[int] = None  # last grid index processed
        self._stamp_floor = -math.inf
        self._restart()

    @property
    def axis(self) -> Optional[np.ndarray]:
        """Current principal axis in the sensor frame (lifting positive), or None."""
        a = self._axis.axis
        return None if a is None or self._sign == 0 else a * self._sign

    def signals(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the kept history as ``(t, theta, omega)`` with the current axis and sign."""
        axis = self.axis
        if axis is None:
            n = self._history.t.size
            return self._history.t.copy(), np.full(n, np.nan), np.full(n, np.nan)
        return (self._history.t.copy(), self._history.rot @ axis, self._history.rate @ axis)

    def push(self, block: ImuBlock) -> List[RepEvent]:
        """
        Consume IMU samples (any rate); return the reps they confirm.

        The 100 Hz grid is processed in hops of ``round(hop_s * rate_hz)`` grid
        samples aligned on the absolute grid (hop ``m`` holds grid indices
        ``m * H .. m * H + H - 1``), plus a shorter chunk before a stall.  A hop is
        processed as soon as its last grid sample is computable, so the chunks -
        and hence every event, stamp included - do not depend on how the source
        splits the stream (one sample per message in the nodes, 0.05 s blocks in
        the evaluation), and per-call numpy overhead is paid once per hop.  An
        event's ``stamp`` is never earlier than the last grid sample of the hop
        that decided it.
        """
        if len(block) == 0:
            return []
        self._pending_t.append(block.t)
        self._pending_accel.append(block.accel)
        self._pending_gyro.append(block.gyro)
        due = self._due_k
        if due is not None and math.floor(float(block.t[-1]) * self._rate + 1e-9) < due:
            return []  # the current hop cannot be complete yet: the resampler would stall
        t_in = np.concatenate(self._pending_t)
        # One resampler for all six axes: the gyro drives the segmenter, and the same
        # grid carries the rep's raw signal (each column is interpolated on its own).
        x_in = np.concatenate((np.concatenate(self._pending_accel),
                               np.concatenate(self._pending_gyro)), axis=1)
        self._pending_t, self._pending_accel, self._pending_gyro = [], [], []
        grid_t, grid_x = self._resampler.push_arrays(t_in, x_in)
        next_k = self._resampler.next_k
        if next_k is not None:
            self._due_k = (next_k // self._hop) * self._hop + self._hop - 1
        if grid_t.size == 0:
            return []
        self._signal.append(grid_t, grid_x[:, :3], grid_x[:, 3:])
        grid_gyro = np.ascontiguousarray(grid_x[:, 3:])
        grid_k = np.rint(grid_t * self._rate).astype(np.int64)
        if self._grid_t.size:
            grid_t = np.concatenate((self._grid_t, grid_t))
            grid_gyro = np.concatenate((self._grid_gyro, grid_gyro))
            grid_k = np.concatenate((self._grid_k, grid_k))
        events: List[RepEvent] = []
        done = 0
        for start, end in hop_slices(grid_k, self._hop):
            first_k = int(grid_k[start])
            if self._last_k is not None and first_k - self._last_k > 1:
                self._restart()  # filters restart after a stall
            self._last_k = int(grid_k[end - 1])
            self._stamp_floor = float(grid_t[end - 1])
            events.extend(self._process(grid_t[start:end], grid_gyro[start:end]))
            done = end
        self._grid_t, self._grid_gyro = grid_t[done:], grid_gyro[done:]
        self._grid_k = grid_k[done:]
        return events

    # -- internals ----------------------------------------------------------------------------
    def _restart(self) -> None:
        """Restart filters and the extremum tracker (start-up or after a stall)."""
        c = self.config
        self._lp = butter_lowpass(c.lowpass_hz, c.rate_hz, 2, channels=3)
        self._hp = butter_highpass(c.highpass_hz, c.rate_hz, 1, channels=3)
        self._rot = np.zeros(3)
        self._mode = _SEEK_VALLEY
        self._ext_val = math.inf
        self._ext_t = math.nan
        self._valley: Optional[Tuple[float, float]] = None   # (t, theta) of last valley
        self._peak: Optional[Tuple[float, float]] = None     # pending peak

    def _process(self, t: np.ndarray, gyro: np.ndarray) -> List[RepEvent]:
        rate = self._lp(gyro)
        self._axis.update(rate, self._dt)
        # Rectangle-rule integration is enough at 100 Hz for < 3 Hz content.
        rot_raw = self._rot + np.cumsum(rate, axis=0) * self._dt
        self._rot = rot_raw[-1].copy()
        rot = self._hp(rot_raw)
        self._history.append(t, rot, rate)
        axis = self._axis.axis
        if axis is None:
            return []
        if self._sign == 0:
            if not self._decide_direction(axis):
                return []
            # Replay the kept history (the start of the first rep) with the new sign.
            hist_t, theta, omega = self.signals()
            return self._track(hist_t, theta, omega, stamp_floor=float(t[-1]))
        axis = axis * self._sign
        return self._track(t, rot @ axis, rate @ axis, stamp_floor=self._stamp_floor)

    def _decide_direction(self, axis: np.ndarray) -> bool:
        """Set the lifting sign from the first large excursion; True once decided."""
        h = self._history
        theta = h.rot @ axis
        up = theta - np.minimum.accumulate(theta)
        down = np.maximum.accumulate(theta) - theta
        lim = self.config.direction_rad
        i_up = int(np.argmax(up > lim)) if np.any(up > lim) else None
        i_down = int(np.argmax(down > lim)) if np.any(down > lim) else None
        if i_up is None and i_down is None:
            return False
        if i_down is None or (i_up is not None and i_up < i_down):
            self._sign = 1
        else:
            self._sign = -1
        return True

    def _track(self, t: np.ndarray, theta: np.ndarray, omega: np.ndarray,
               stamp_floor: float) -> List[RepEvent]:
        """Run the hysteresis extremum tracker over new samples (vectorised per event)."""
        c = self.config
        if self._no_decision(t, theta):
            return []
        events: List[RepEvent] = []
        i, n = 0, t.size
        idx = np.arange(n)
        while i < n:
            seg, ts = theta[i:], t[i:]
            if self._mode == _SEEK_VALLEY:
                run = np.minimum.accumulate(np.concatenate([[self._ext_val], seg]))
                new_ext = seg < run[:-1]
                run = run[1:]
                rising = seg - run >= c.hysteresis_rad
            else:
                run = np.maximum.accumulate(np.concatenate([[self._ext_val], seg]))
                new_ext = seg > run[:-1]
                run = run[1:]
                rising = run - seg >= c.hysteresis_rad
            pos = np.maximum.accumulate(np.where(new_ext, idx[:seg.size], -1))
            t_ext = np.where(pos >= 0, ts[np.maximum(pos, 0)], self._ext_t)
            trig = rising
            if self._mode == _SEEK_VALLEY and self._peak is not None:
                trig = trig | (ts - t_ext >= c.flat_s)
            hits = np.flatnonzero(trig)
            if hits.size == 0:
                self._ext_val, self._ext_t = float(run[-1]), float(t_ext[-1])
                break
            j = int(hits[0])
            ext = (float(t_ext[j]), float(run[j]))
            stamp = max(float(ts[j]), stamp_floor, self._stamp_floor)
            if self._mode == _SEEK_VALLEY:
                event = self._on_valley(ext, stamp)
                if event is not None:
                    events.append(event)
                self._mode = _SEEK_PEAK
            else:
                self._on_peak(ext)
                self._mode = _SEEK_VALLEY
            self._ext_val, self._ext_t = float(seg[j]), float(ts[j])
            i += j + 1
        return events

    def _no_decision(self, t: np.ndarray, theta: np.ndarray) -> bool:
        """
        Advance the running extremum if no valley/peak can be confirmed in ``theta``.

        The usual hop decides nothing: then only the extremum (value and time of
        its first occurrence) moves, exactly as the full tracker would move it.
        Rounding is monotone, so ``max - min < hysteresis`` bounds every sample's
        rise above (fall below) the running extremum.  Returns False (nothing
        changed) when a decision is possible or the block holds a NaN.
        """
        c = self.config
        if self._mode == _SEEK_VALLEY:
            k = int(np.argmin(theta))
            low, high = float(theta[k]), float(theta.max())
            ext = low if low < self._ext_val else self._ext_val
            if not high - ext < c.hysteresis_rad:
                return False
            if self._peak is not None and not float(t[-1]) - self._ext_t < c.flat_s:
                if not (math.isnan(self._ext_t) and low >= self._ext_val):
                    return False
            if low < self._ext_val:
                self._ext_val, self._ext_t = low, float(t[k])
            return True
        k = int(np.argmax(theta))
        low, high = float(theta.min()), float(theta[k])
        ext = high if high > self._ext_val else self._ext_val
        if not ext - low < c.hysteresis_rad:
            return False
        if high > self._ext_val:
            self._ext_val, self._ext_t = high, float(t[k])
        return True

    def _launch(self, valley_t: float, peak_t: float) -> float:
        """
        Start of the lift: last still sample before the concentric's fastest point.

        After a rest at the bottom the previous valley is long gone; the rep starts
        where the arm last stood still before it accelerated upwards.
        """
        t, _, omega = self.signals()
        i0, i1 = np.searchsorted(t, [valley_t, peak_t])
        if i1 - i0 < 2:
            return valley_t
        fastest = i0 + int(np.argmax(omega[i0:i1]))
        still = np.flatnonzero(np.abs(omega[i0:fastest]) < self.config.still_rate)
        return float(t[i0 + still[-1]]) if still.size else valley_t

    def _on_peak(self, peak: Tuple[float, float]) -> None:
        if self._peak is None or peak[1] > self._peak[1]:
            self._peak = peak

    def _on_valley(self, valley: Tuple[float, float], stamp: float) -> Optional[RepEvent]:
        c = self.config
        prev, peak = self._valley, self._peak
        if prev is None or peak is None:
            self._valley, self._peak = valley, None
            return None
        start = self._launch(prev[0], peak[0])
        duration = valley[0] - start
        if (peak[1] - prev[1] >= c.min_rom_rad and peak[1] - valley[1] >= c.min_rom_rad
                and c.min_rep_s <= duration <= c.max_rep_s):
            self._valley, self._peak = valley, None
            return self._emit(start, peak[0], valley[0], stamp)
        if valley[1] >= prev[1] and peak[1] - valley[1] < c.min_rom_rad \
                and valley[0] - prev[0] < c.max_rep_s:
            return None  # a shallow dip near the top: keep the rep open
        self._valley, self._peak = valley, None
        return None

    def _emit(self, start: float, peak: float, end: float, stamp: float) -> RepEvent:
        if opens_new_set(self._last_rep_end, start, self.config.set_rest_s):
            self._set_index += 1
            self._rep_in_set = 0
            self._features.reset()
        self._rep_in_set += 1
        self._last_rep_end = end
        t, theta, omega = self.signals()
        feats = self._features.add(rep_kinematics(t, theta, omega, start, end, peak))
        return RepEvent(set_index=self._set_index, rep_index=self._rep_in_set, start=start,
                        end=end, stamp=stamp, peak=peak, features=feats,
                        signal=self._signal.cut(start, end))
