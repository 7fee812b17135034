"""
SampleGate: the one place incoming IMU samples are checked before any stage sees them.

Drops (counted by reason):

* ``non_finite``: NaN or Inf in the stamp, accel or gyro;
* ``out_of_range``: physically absurd values (default |a| > 16 g per axis, the
  MPU-6050's widest range, or |w| > 40 rad/s per axis, ~2300 deg/s);
* ``duplicate``: stamp equal to the newest accepted one (re-sent sample);
* ``out_of_order``: stamp older than the newest accepted one, by less than
  ``jump_s`` (a late packet; the stream already moved on);
* ``stray_stamp``: one sample stamped more than ``jump_s`` away from the samples
  on both sides of it (a corrupt stamp, not a clock jump: the next sample goes on
  from the old timeline).  A sample that jumps is therefore decided only when the
  next one arrives: if that one follows it, the clock jumped (flagged below); a
  jump at the very end of a stream is never released.

Flags (counted, samples kept):

* ``stall``: a gap between accepted samples longer than ``stall_s``;
* ``clock_jump``: the source clock jumped forward or back by more than
  ``jump_s``.  The gate *resyncs* to the new timeline instead of dropping every
  later sample as out of order, and the result is split into ``parts`` at the
  jump; consumers reset their stage state before feeding the part after it;
* ``burst``: samples spaced closer than ``burst_factor`` of the sample period
  (a driver catching up with bunched stamps);
* ``rate_change``: the median spacing of the recent samples moved by more than
  ``rate_tolerance`` from the rate in use (learned from the first samples
  unless ``nominal_rate_hz`` is given); the new rate is adopted;
* ``units``: the stream looks like it is not in the REP-145 units (m/s^2 and
  rad/s), judged once per ``UNITS_WINDOW_S`` of stamps over the finite samples
  whose acceleration is in range: a median |a| of ``G_UNITS_ACCEL`` (0.5-2)
  instead of ~9.81 means accelerations in g; at least ``DEGS_SHARE`` of them with
  |w| beyond ``max_gyro`` yet within ``max_gyro`` read as deg/s means angular
  velocity in deg/s.  Each finding is counted and described (``GateReport.units``)
  once per stream, not per sample; it changes nothing about which samples are
  kept.  SI data never comes close: the thomas2025 sets and the simulator keep a
  median |a| of 9-12 m/s^2 over any 3 s and |w| under 6 rad/s.  A deg/s stream
  whose motion stays under ``max_gyro`` deg/s (a slow press) is not detected.

Each :meth:`SampleGate.push` returns the clean samples plus a :class:`GateReport`
of that block; :meth:`SampleGate.take_report` returns everything since the last
call, so a node can log one counted warning and publish one diagnostics message
per period instead of one per sample.  Work per block is vectorised; only
backward stamp steps (rare) are handled in a Python loop.

The nodes push one sample per IMU message, 100 times a second, and for one sample
the vectorised path is mostly numpy call overhead.  A one-sample block that is
finite, in range, newer than the last accepted stamp by a normal spacing (not a
burst, stall or jump) therefore takes a scalar path; it shares the rate tracking
with the vectorised path and anything it does not cover falls through to it, so
results and reports are the same whichever path a sample takes.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, Dict, List, Optional, Set, Tuple

import numpy as np

from rep_coach.core.types import ImuBlock
from rep_coach.core.units import DEG_TO_RAD, STANDARD_GRAVITY

DROP_REASONS = ('non_finite', 'out_of_range', 'duplicate', 'out_of_order', 'stray_stamp')
FLAG_REASONS = ('stall', 'clock_jump', 'burst', 'rate_change', 'units')
_REASONS = DROP_REASONS + FLAG_REASONS
_RATE_WINDOW = 64          # recent sample spacings used for the rate estimate
_RATE_MIN_SAMPLES = 16

#: Stamps spanned by one units judgement: a few seconds hold rest and motion alike.
UNITS_WINDOW_S = 3.0
#: Fewer samples than this in a window are not judged (a trickle says little).
UNITS_MIN_SAMPLES = 25
#: Median |a| range (in the stream's units) that means "in g": 1 at rest, and SI
#: data stays above 9 m/s^2 over any few seconds (gravity is always there).
G_UNITS_ACCEL = (0.5, 2.0)
#: Share of a window's samples with |w| beyond max_gyro yet plausible as deg/s that
#: means "in deg/s".  A curl in deg/s puts over half its samples there; a glitching
#: SI gyro a few, not a fifth of every sample over seconds.
DEGS_SHARE = 0.2
#: What a units finding can say: accelerations in g, angular velocity in deg/s.
UNITS_KINDS = ('g', 'deg/s')


#: Longest forward jump of the stamps that is a hole in the same stream (a wireless link
#: or a loaded machine dropping samples), after which a consumer may resume rather than
#: reset (:func:`is_hole`).  A longer jump, or one back, is taken for another stream: a
#: replay restarted, another recording, whose sensor may sit otherwise on the wrist.
HOLE_MAX_S = 30.0


def is_hole(gap_s: float) -> bool:
    """Tell whether a clock jump of ``gap_s`` (next stamp minus last) is a hole to resume over."""
    return 0.0 < gap_s <= HOLE_MAX_S


@dataclass
class GateConfig:
    """Thresholds of the gate (SI units)."""

    max_accel: float = 16.0 * STANDARD_GRAVITY
    max_gyro: float = 40.0
    stall_s: float = 0.25
    jump_s: float = 2.0
    nominal_rate_hz: Optional[float] = None
    rate_tolerance: float = 0.25
    burst_factor: float = 0.25

    def __post_init__(self) -> None:
        """Reject thresholds that cannot work, naming the field."""
        for name in ('max_accel', 'max_gyro', 'stall_s', 'jump_s', 'rate_tolerance',
                     'burst_factor'):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f'GateConfig.{name}={value!r}: must be a positive number')
            # numpy compares float64 samples with an int threshold as a float64; the
            # scalar path compares Python floats, so both must see the same float.
            setattr(self, name, float(value))
        if self.jump_s <= self.stall_s:
            raise ValueError(f'GateConfig.jump_s={self.jump_s!r} must exceed '
                             f'stall_s={self.stall_s!r}')
        if self.nominal_rate_hz is not None and not self.nominal_rate_hz > 0:
            raise ValueError(f'GateConfig.nominal_rate_hz={self.nominal_rate_hz!r}: '
                             'must be > 0 or None')

    def limits(self) -> str:
        """Say what ``out_of_range`` means, in the units people read IMU data in."""
        return (f'|a| <= {self.max_accel / STANDARD_GRAVITY:g} g and |w| <= '
                f'{self.max_gyro / DEG_TO_RAD:.0f} deg/s on every axis')


@dataclass
class GateReport:
    """What the gate did to a block, or since the last :meth:`SampleGate.take_report`."""

    received: int = 0
    accepted: int = 0
    counts: Dict[str, int] = field(default_factory=dict)
    resync: bool = False            # a clock jump happened: reset downstream state
    max_gap_s: float = 0.0
    rate_hz: Optional[float] = None
    units: List[str] = field(default_factory=list)   # what each ``units`` flag found

    @property
    def dropped(self) -> int:
        """Number of samples dropped, all reasons."""
        return sum(self.counts.get(r, 0) for r in DROP_REASONS)

    @property
    def clean(self) -> bool:
        """True when nothing was dropped or flagged."""
        return not any(self.counts.values())

    def merge(self, other: 'GateReport') -> None:
        """Add ``other`` (a later report) into this one."""
        self.received += other.received
        self.accepted += other.accepted
        for key, value in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        self.resync = self.resync or other.resync
        self.max_gap_s = max(self.max_gap_s, other.max_gap_s)
        self.rate_hz = other.rate_hz if other.rate_hz is not None else self.rate_hz
        self.units = self.units + other.units

    def summary(self) -> str:
        """One log line, e.g. ``dropped 3 of 200 samples (non_finite: 2, duplicate: 1)``."""
        drops = ', '.join(f'{r}: {self.counts[r]}' for r in DROP_REASONS if self.counts.get(r))
        flags = ', '.join(f'{r}: {self.counts[r]}' for r in FLAG_REASONS if self.counts.get(r))
        parts = [f'dropped {self.dropped} of {self.received} samples'
                 + (f' ({drops})' if drops else '')]
        if flags:
            parts.append(f'events ({flags})' + (f', longest gap {self.max_gap_s:.3f} s'
                                                if self.max_gap_s else ''))
        parts.extend(self.units)
        return '; '.join(parts)

    def as_key_values(self) -> Dict[str, str]:
        """Flat string map for diagnostic_msgs/KeyValue."""
        out = {'received': str(self.received), 'accepted': str(self.accepted),
               'max_gap_s': f'{self.max_gap_s:.3f}',
               'rate_hz': '' if self.rate_hz is None else f'{self.rate_hz:.2f}'}
        out.update({r: str(self.counts.get(r, 0)) for r in DROP_REASONS + FLAG_REASONS})
        if self.units:
            out['units_detail'] = '; '.join(self.units)
        return out


@dataclass
class GateResult:
    """
    Clean samples of one push; ``parts`` split them at clock jumps (each increasing).

    Every part after the first follows a clock jump; ``after_jump`` says whether the
    first one does too (a jump between the previous push and this one), so a consumer
    resets its timeline state exactly before the parts that need it.
    """

    parts: List[ImuBlock]
    report: GateReport
    after_jump: bool = False

    @property
    def block(self) -> ImuBlock:
        """All clean samples in arrival order (not increasing across a backward resync)."""
        return self.parts[0] if len(self.parts) == 1 else ImuBlock.concat(self.parts)


class SampleGate:
    """Stateful filter over a stream of ImuBlocks; see the module docstring."""

    def __init__(self, config: Optional[GateConfig] = None) -> None:
        self.config = config or GateConfig()
        self._pending = GateReport()
        self.reset()

    def reset(self) -> None:
        """Forget the stream (a new source); counts since the last report are kept."""
        self._last_t: Optional[float] = None
        self._held: Optional[ImuBlock] = None   # a jumped sample awaiting the next one
        self._prev_raw = float('nan')           # stamp of the sample that arrived last
        nominal = self.config.nominal_rate_hz
        self._period: Optional[float] = None if nominal is None else 1.0 / nominal
        # The recent normal spacings, in arrival order and sorted: one sample then
        # updates the median with a bisection instead of a sort of the window.
        self._spacings: Deque[float] = deque(maxlen=_RATE_WINDOW)
        self._sorted: List[float] = []
        self._units = UnitsWatch(self.config.max_gyro)

    @property
    def rate_hz(self) -> Optional[float]:
        """Sample rate in use (nominal, learned or adopted after a change)."""
        return None if self._period is None else 1.0 / self._period

    def take_report(self) -> GateReport:
        """Return the counts since the previous call, and start counting afresh."""
        report, self._pending = self._pending, GateReport()
        report.rate_hz = self.rate_hz
        return report

    def push(self, block: ImuBlock) -> GateResult:
        """Check one block; return its clean samples and what was dropped or flagged."""
        if (len(block.t) == 1 and self._last_t is not None and self._held is None
                and abs(block.t.item(0) - self._prev_raw) <= self.config.jump_s):
            result = self._push_one(block)
            if result is not None:
                self._prev_raw = block.t.item(0)
                return result
        return self._push_general(block)

    def _push_general(self, block: ImuBlock) -> GateResult:
        """Check a block of any size: strays screened out, then the vectorised checks."""
        block, strays = self._screen_strays(block)
        result = self._push_block(block)
        if strays:
            extra = GateReport(received=strays, counts={'stray_stamp': strays})
            result.report.merge(extra)
            self._pending.merge(extra)
        return result

    def _screen_strays(self, block: ImuBlock) -> Tuple[ImuBlock, int]:
        """
        Drop lone far-off stamps; hold a jumped last sample until the next push.

        Judged on raw arrival order alone (each stamp against the one that arrived
        before it, whatever became of that one), so the same samples are dropped
        however the stream is split into blocks.  Returns the block to check, with
        a sample held from the previous push in front, and the number dropped.
        """
        if self._held is not None:
            block, self._held = ImuBlock.concat([self._held, block]), None
        t, jump = block.t, self.config.jump_s
        if not len(t):
            return block, 0
        before = np.concatenate(([self._prev_raw], t[:-1]))   # each stamp's predecessor
        with np.errstate(invalid='ignore'):                    # NaN compares False
            jumped = np.abs(t - before) > jump
            stray = np.zeros(len(t), dtype=bool)
            stray[:-1] = (jumped[:-1] & (np.abs(t[1:] - t[:-1]) > jump)
                          & (np.abs(t[1:] - before[:-1]) <= jump))
        keep = ~stray
        if jumped[-1]:                 # its successor decides: wait for it
            self._held = block.slice(len(t) - 1, None)
            self._prev_raw = float(before[-1])
            keep[-1] = False
        else:
            self._prev_raw = float(t[-1])
        if keep.all():
            return block, 0
        return ImuBlock(t[keep], block.accel[keep], block.gyro[keep]), int(stray.sum())

    def _push_one(self, block: ImuBlock) -> Optional[GateResult]:
        """
        Return the result of one clean sample in step; None when it is anything else.

        The conditions are those under which :meth:`_push_block` drops nothing and
        flags nothing but (perhaps) a rate change: every value finite and in range
        (comparisons with NaN are false, |inf| is out of range), and a spacing after
        the last accepted stamp in (0, ``stall_s``] that is not a burst.  The last
        accepted stamp is finite, so such a spacing also means a finite stamp, and
        bounded values cannot overflow the row sum the vectorised path tests.
        """
        cfg = self.config
        t = block.t.item(0)
        dt = t - self._last_t
        if not 0.0 < dt <= cfg.stall_s:
            return None
        if self._period is not None and dt < cfg.burst_factor * self._period:
            return None
        (ax, ay, az), = block.accel.tolist()
        (gx, gy, gz), = block.gyro.tolist()
        amax, gmax = cfg.max_accel, cfg.max_gyro
        if not (abs(ax) <= amax and abs(ay) <= amax and abs(az) <= amax
                and abs(gx) <= gmax and abs(gy) <= gmax and abs(gz) <= gmax):
            return None
        self._last_t = t
        counts = dict.fromkeys(_REASONS, 0)
        if len(self._spacings) == _RATE_WINDOW:
            del self._sorted[bisect_left(self._sorted, self._spacings[0])]
        self._spacings.append(dt)
        insort(self._sorted, dt)
        self._judge_rate(counts)
        report = GateReport(received=1, accepted=1, counts=counts, rate_hz=self.rate_hz)
        found = self._units.add_one(t, ax * ax + ay * ay + az * az)
        if found:
            counts['units'] += len(found)
            report.units = found
        self._pending.merge(report)
        return GateResult([block], report)

    def _push_block(self, block: ImuBlock) -> GateResult:
        """Check a block of any size and content, vectorised."""
        cfg = self.config
        counts = dict.fromkeys(_REASONS, 0)
        t, acc, gyr = block.t, block.accel, block.gyro
        with np.errstate(invalid='ignore', over='ignore'):
            # a row sum is finite if every value is (inf - inf is NaN, which numpy would
            # warn about on stderr): one pass, not three.  It also overflows on huge
            # finite values, which are out of range, not non-finite: those rows (rare)
            # are looked at value by value.
            finite = np.isfinite(t + acc.sum(axis=1) + gyr.sum(axis=1))
            if not finite.all():
                rows = np.flatnonzero(~finite)
                finite[rows] = (np.isfinite(t[rows]) & np.isfinite(acc[rows]).all(axis=1)
                                & np.isfinite(gyr[rows]).all(axis=1))
            accel_ok = finite & (np.abs(acc).max(axis=1, initial=0.0) <= cfg.max_accel)
            gyro_max = np.abs(gyr).max(axis=1, initial=0.0)
        sane = accel_ok & (gyro_max <= cfg.max_gyro)
        counts['non_finite'] = int(len(t) - np.count_nonzero(finite))
        counts['out_of_range'] = int(np.count_nonzero(finite) - np.count_nonzero(sane))
        judged = np.flatnonzero(accel_ok)
        found = self._units.add(t[judged], np.einsum('ij,ij->i', acc[judged], acc[judged]),
                                gyro_max[judged])
        counts['units'] += len(found)
        idx = np.flatnonzero(sane)
        prev = self._last_t
        keep, back = self._order(t[idx], counts)
        idx = idx[keep]
        report = GateReport(received=len(t), accepted=len(idx), counts=counts, units=found)
        starts = self._timing(t[idx], prev, back, report)
        after_jump = bool(starts) and starts[0] == 0
        starts = [j for j in starts if j]
        if len(idx) == len(t) and not starts:
            parts = [block]                # the common case: no copy
        else:
            bounds = [0] + starts + [len(idx)]
            parts = [ImuBlock(t[idx[a:b]], acc[idx[a:b]], gyr[idx[a:b]])
                     for a, b in zip(bounds[:-1], bounds[1:]) if b > a] or [ImuBlock.empty()]
        report.resync = bool(counts['clock_jump'])
        report.rate_hz = self.rate_hz
        self._pending.merge(report)
        return GateResult(parts, report, after_jump)

    def _order(self, ts: np.ndarray, counts: Dict[str, int]) -> Tuple[np.ndarray, List[int]]:
        """
        Return (mask of kept stamps, positions among the kept where the clock went back).

        Between backward steps the stamps increase, so each run is handled at once:
        its head at or below the newest accepted stamp is dropped, unless the step
        back exceeds ``jump_s`` (then the gate follows the new timeline).
        """
        keep = np.ones(len(ts), dtype=bool)
        if not len(ts):
            return keep, []
        newest = -np.inf if self._last_t is None else self._last_t
        prev = np.concatenate(([newest], ts[:-1]))
        steps = np.flatnonzero(ts <= prev)
        if not len(steps):
            self._last_t = float(ts[-1])
            return keep, []
        back: List[int] = []
        if steps[0] > 0:                         # the increasing run before the first step
            newest = float(ts[steps[0] - 1])
        bounds = list(steps) + [len(ts)]
        for start, end in zip(bounds[:-1], bounds[1:]):
            run = ts[start:end]
            if np.isfinite(newest) and newest - run[0] > self.config.jump_s:
                counts['clock_jump'] += 1
                back.append(start)
                newest = float(run[-1])
                continue
            k = int(np.searchsorted(run, newest, side='right'))
            if k:
                dup = int(np.count_nonzero(run[:k] == newest))
                counts['duplicate'] += dup
                counts['out_of_order'] += k - dup
                keep[start:start + k] = False
            if k < len(run):
                newest = float(run[-1])
        self._last_t = newest
        kept_pos = np.cumsum(keep) - 1
        return keep, [int(kept_pos[i]) for i in back]

    def _timing(self, kept: np.ndarray, prev: Optional[float], back: List[int],
                report: GateReport) -> List[int]:
        """
        Flag stalls, forward jumps and bursts; track the rate; return the resync points.

        A resync point is the index (among ``kept``) of a sample that follows a clock
        jump; 0 when the first one follows a jump from the previous push.
        """
        cfg, counts = self.config, report.counts
        if not len(kept):
            return []
        before = np.nan if prev is None else prev
        dt = np.diff(np.concatenate(([before], kept)))     # dt[j]: spacing before sample j
        dt[back] = np.nan                                    # no spacing across a jump back
        with np.errstate(invalid='ignore'):
            forward = np.flatnonzero(dt > cfg.jump_s)
            stall = (dt > cfg.stall_s) & (dt <= cfg.jump_s)
            counts['clock_jump'] += len(forward)
            counts['stall'] += int(stall.sum())
            if stall.any():
                report.max_gap_s = float(dt[stall].max())
            if self._period is not None:
                counts['burst'] += int(np.count_nonzero(dt < cfg.burst_factor * self._period))
            normal = dt[(dt > 0) & (dt <= cfg.stall_s)]
        self._track_rate(normal, counts)
        return sorted(set(back) | {int(j) for j in forward})

    def _track_rate(self, dt: np.ndarray, counts: Dict[str, int]) -> None:
        """Add a block's normal spacings to the rate window, then judge the rate."""
        if not len(dt):
            return
        self._spacings.extend(dt[-_RATE_WINDOW:].tolist())
        self._sorted = sorted(self._spacings)
        self._judge_rate(counts)

    def _judge_rate(self, counts: Dict[str, int]) -> None:
        """Learn the rate from the window, or count and adopt a change of it."""
        if len(self._spacings) < _RATE_MIN_SAMPLES:
            return
        median = _median(self._sorted)
        if self._period is None:
            self._period = median
        elif abs(median / self._period - 1.0) > self.config.rate_tolerance:
            counts['rate_change'] += 1
            # Fed one sample at a time, the window median first moves when half the
            # window is new, halfway between the two rates: adopt the median of the
            # newest spacings instead, or one change would be counted twice.
            newest = list(self._spacings)[-_RATE_MIN_SAMPLES:]
            self._period = _median(sorted(newest))
            self._spacings.clear()         # judge the new rate on fresh samples only
            self._sorted = []


class GatedStream:
    """
    A :class:`SampleGate` in front of one consumer, and what the consumer must do at a jump.

    The nodes' intake and the offline replay both feed their stages through it, so a
    replay of a recorded stream drops, resets and resumes exactly where the nodes did:
    before every part that follows a clock jump the consumer is reset, or resumed when
    the jump is a hole in the same stream (:func:`is_hole`, forward by at most
    ``HOLE_MAX_S`` after the newest sample fed) and it can resume.
    """

    def __init__(self, gate: Optional[SampleGate] = None) -> None:
        self.gate = gate or SampleGate()
        #: Stamp of the newest sample fed, the far side of any hole.
        self.newest: Optional[float] = None

    def push(self, block: ImuBlock, feed: Callable[[ImuBlock], None],
             reset: Callable[[], None],
             resume: Optional[Callable[[], None]] = None) -> Tuple[int, GateResult]:
        """Gate ``block`` and feed its clean parts; return the samples fed and the result."""
        result = self.gate.push(block)
        fed = 0
        for i, part in enumerate(result.parts):
            # Samples after a clock jump start a new timeline: stage state from the old
            # one must not mix with it.  Every part but the first follows a jump.
            if i > 0 or result.after_jump:
                hole = (self.newest is not None and len(part) > 0
                        and is_hole(float(part.t[0]) - self.newest))
                if hole and resume is not None:
                    resume()
                else:
                    reset()
            if len(part):
                feed(part)
                fed += len(part)
                self.newest = float(part.t[-1])
        return fed, result


def screen(block: ImuBlock) -> GateReport:
    """Return what the nodes' sample gate drops and flags in a whole recorded stream."""
    gate = SampleGate()
    gate.push(block)
    return gate.take_report()


def first_out_of_range(accel: np.ndarray, gyro: np.ndarray,
                       config: Optional[GateConfig] = None) -> Optional[Tuple[int, int]]:
    """
    Locate the first value the gate drops as ``out_of_range`` in (N, 3) SI arrays.

    Returns (row, column), the column counting accel x, y, z then gyro x, y, z; None when
    every value is within the limits (:meth:`GateConfig.limits`).  A file reader names
    the culprit with it: no IMU measures such a value, so the file is damaged.
    """
    cfg = config or GateConfig()
    with np.errstate(invalid='ignore'):
        over = np.hstack((np.abs(accel) > cfg.max_accel, np.abs(gyro) > cfg.max_gyro))
    hits = np.argwhere(over)
    return (int(hits[0][0]), int(hits[0][1])) if len(hits) else None


class UnitsWatch:
    """
    Tell from a stream's values whether it is in g or deg/s instead of SI units.

    Fed the finite samples whose acceleration is in range, in arrival order; judges
    each ``UNITS_WINDOW_S`` of stamps (a stamp that goes back starts a new window)
    and returns a description of each finding the first time it is made.
    """

    def __init__(self, max_gyro: float) -> None:
        self.max_gyro = max_gyro
        # |w| up to this is a plausible rate in deg/s (40 rad/s -> 40 deg/s ... 2292)
        self.degs_max = max_gyro / DEG_TO_RAD
        self.found: Set[str] = set()   # kinds already reported: once per stream
        self._start = float('nan')
        self._accel_sq: List[float] = []
        self._degs = 0

    @property
    def done(self) -> bool:
        """Tell whether both findings are made: nothing is left to watch for."""
        return len(self.found) == len(UNITS_KINDS)

    def add_one(self, t: float, accel_sq: float) -> List[str]:
        """Add one sample with |w| in range (the gate's scalar path)."""
        if self.done:       # a stream found wrong twice over: stop paying per sample
            return []
        out: List[str] = []
        if not self._start <= t < self._start + UNITS_WINDOW_S:
            out = self._close(t)
        self._accel_sq.append(accel_sq)
        return out

    def add(self, t: np.ndarray, accel_sq: np.ndarray, gyro_max: np.ndarray) -> List[str]:
        """Add samples: stamps, squared |a| and largest |w| component of each."""
        if self.done:
            return []
        out: List[str] = []
        degs = (gyro_max > self.max_gyro) & (gyro_max <= self.degs_max)
        i = 0
        while i < len(t):
            # The first sample outside the current window closes it (the same test as
            # add_one's, so that no window is open yet closes one too).
            rest = t[i:]
            inside = (rest >= self._start) & (rest < self._start + UNITS_WINDOW_S)
            j = i + int(np.argmin(inside)) if not inside.all() else len(t)
            if j > i:
                self._accel_sq.extend(accel_sq[i:j].tolist())
                self._degs += int(np.count_nonzero(degs[i:j]))
                i = j
                continue
            out.extend(self._close(float(t[i])))
            self._accel_sq.append(float(accel_sq[i]))
            self._degs += int(degs[i])
            i += 1
        return out

    def _close(self, t: float) -> List[str]:
        """Judge the window, if full enough, and start a new one at ``t``."""
        out: List[str] = []
        n = len(self._accel_sq)
        if n >= UNITS_MIN_SAMPLES:
            span = f'{n} samples over {UNITS_WINDOW_S:g} s'
            median = float(np.median(np.sqrt(self._accel_sq)))
            low, high = G_UNITS_ACCEL
            if 'g' not in self.found and low <= median <= high:
                self.found.add('g')
                out.append(f'units: accelerations look like g, not m/s^2 (median |a| '
                           f'{median:.2f} over {span}, ~9.81 expected): REP-145 wants '
                           'linear_acceleration in m/s^2 (g x 9.80665)')
            if 'deg/s' not in self.found and self._degs >= DEGS_SHARE * n:
                self.found.add('deg/s')
                out.append(f'units: angular velocity looks like deg/s, not rad/s '
                           f'({self._degs} of {span} with |w| between {self.max_gyro:g} '
                           f'and {self.degs_max:.0f}, dropped as out_of_range): REP-145 '
                           'wants angular_velocity in rad/s (deg/s x pi/180)')
        self._start = t
        self._accel_sq = []
        self._degs = 0
        return out


def _median(ordered: List[float]) -> float:
    """Return the median of sorted values as ``np.median`` does (mean of the middle two)."""
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2
