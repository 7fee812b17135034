"""
Session planning (subject, sets, fatigue) and sample generation.

The session is generated bout by bout (idle lead-in, one set, rest), in order,
each bout starting and ending at rest, so an endless stream costs constant
memory and the samples do not depend on how the caller slices them into blocks.
Randomness: one generator for the subject and sensor, one spawned per set
(``SeedSequence``), so a set's plan does not depend on how many random numbers
earlier sets consumed for noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from rep_coach.core.sim.config import SimConfig
from rep_coach.core.sim.exercises import Exercise, get_exercise
from rep_coach.core.sim.motion import Phase, render_progress, rotation_about, wrist_imu
from rep_coach.core.types import ImuBlock, RepLabel, SetLabels
from rep_coach.core.units import DEG_TO_RAD, STANDARD_GRAVITY


@dataclass
class Subject:
    """Per-session body and habits, drawn once from the seed."""

    lever_m: float
    rom_rad: float
    theta0_rad: float
    translation_m: float
    concentric_s: float
    eccentric_s: float
    fatigue_power: float      # >1: velocity falls faster near failure
    reps_to_failure: int


@dataclass
class Bout:
    """One generated bout: samples plus the labels of its set (None for pure idle)."""

    block: ImuBlock
    labels: Optional[SetLabels]
    info: Dict[str, Any] = field(default_factory=dict)


def rpe_from_rir(rir: int) -> float:
    """RIR-based RPE: 10 - RIR, capped to [1, 10] (RIR 3+ gives RPE 7 or lower)."""
    return float(min(10, max(1, 10 - int(rir))))


def _draw_subject(cfg: SimConfig, ex: Exercise, rng: np.random.Generator) -> Subject:
    def pick(lo_hi: Tuple[float, float]) -> float:
        lo, hi = lo_hi
        return float(rng.uniform(lo, hi)) if cfg.randomize_subject else 0.5 * (lo + hi)

    reps = cfg.reps_to_failure if cfg.reps_to_failure is not None else \
        int(rng.integers(6, 21))
    return Subject(
        lever_m=pick(ex.lever_m), rom_rad=pick(ex.rom_deg) * DEG_TO_RAD,
        theta0_rad=(ex.theta0_deg + (pick((-5.0, 5.0)) if ex.theta0_deg else 0.0))
        * DEG_TO_RAD,
        translation_m=pick(ex.translation_m),
        concentric_s=pick(ex.concentric_s) * cfg.tempo_scale,
        eccentric_s=pick(ex.eccentric_s) * cfg.tempo_scale,
        fatigue_power=pick((1.3, 2.2)), reps_to_failure=reps)


def _mounting(cfg: SimConfig, rng: np.random.Generator) -> Tuple[np.ndarray, Dict[str, Any]]:
    """Rotation whose columns are the worn sensor's axes in the nominal sensor frame."""
    if not cfg.randomize_orientation:
        return np.eye(3), {'roll_deg': 0.0, 'tilt_deg': [0.0, 0.0], 'reversed': False}
    roll = float(rng.uniform(-25.0, 25.0))        # strap turned about the forearm
    tilt = rng.normal(0.0, 4.0, 2)                 # strap not flat on the wrist
    reversed_ = bool(rng.random() < 0.5)           # device worn the other way round
    mount = (rotation_about(np.array([1.0, 0.0, 0.0]), roll * DEG_TO_RAD)
             @ rotation_about(np.array([0.0, 1.0, 0.0]), tilt[0] * DEG_TO_RAD)
             @ rotation_about(np.array([0.0, 0.0, 1.0]), tilt[1] * DEG_TO_RAD))
    if reversed_:
        mount = mount @ rotation_about(np.array([0.0, 0.0, 1.0]), math.pi)
    return mount, {'roll_deg': roll, 'tilt_deg': [float(v) for v in tilt],
                   'reversed': reversed_}


class _Timeline:
    """Accumulates contiguous phases."""

    def __init__(self, start: float, q: float = 0.0) -> None:
        self.phases: List[Phase] = []
        self.t = start
        self.q = q

    def move(self, q1: float, duration: float, sticking: float = 0.0) -> Tuple[float, float]:
        start = self.t
        self.phases.append(Phase(start, duration, self.q, q1, sticking))
        self.t += duration
        self.q = q1
        return start, self.t

    def hold(self, duration: float) -> None:
        if duration > 0:
            self.move(self.q, duration)


class SessionGenerator:
    """Generates the bouts of a session in order; see :func:`simulate`."""

    def __init__(self, cfg: SimConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.exercise = get_exercise(cfg.exercise)
        seq = np.random.SeedSequence(cfg.seed)
        subject_seq, sensor_seq, self._set_seq = seq.spawn(3)
        rng = np.random.default_rng(subject_seq)
        self.subject = _draw_subject(cfg, self.exercise, rng)
        self.mount, mount_info = _mounting(cfg, rng)
        self._sensor_rng = np.random.default_rng(sensor_seq)
        self._sway = self._draw_sway(rng)
        srng = self._sensor_rng
        self._acc_bias = srng.normal(0.0, cfg.accel_bias, 3)
        self._gyr_bias = srng.normal(0.0, cfg.gyro_bias, 3)
        self._acc_scale = 1.0 + srng.normal(0.0, cfg.scale_error, 3)
        self._gyr_scale = 1.0 + srng.normal(0.0, cfg.scale_error, 3)
        self._next_n = 0
        self._t_next = cfg.start_time
        self._set_index = 0
        self._reps_to_failure = self.subject.reps_to_failure
        self.meta: Dict[str, Any] = {
            'source': 'sim', 'exercise': self.exercise.name, 'seed': cfg.seed,
            'concentric_first': self.exercise.concentric_first,
            'subject': {k: float(v) for k, v in vars(self.subject).items()},
            'mounting': mount_info, 'sets': []}

    # -- randomness of the body ---------------------------------------------------------
    def _draw_sway(self, rng: np.random.Generator) -> Tuple[np.ndarray, ...]:
        """Sinusoid bank (amplitude, rad/s, phase) per world axis: sway plus tremor."""
        n = 4
        amp = np.abs(rng.normal(0.0, self.cfg.sway_deg * DEG_TO_RAD / math.sqrt(n), (3, n)))
        freq = 2.0 * math.pi * rng.uniform(0.1, 1.5, (3, n))
        # physiological tremor, ~8-12 Hz, a few hundredths of rad/s on the gyro
        tremor_w = 2.0 * math.pi * rng.uniform(8.0, 12.0, (3, 1))
        tremor_a = 0.015 / tremor_w * (self.cfg.sway_deg > 0)
        amp = np.concatenate([amp, tremor_a], axis=1)
        freq = np.concatenate([freq, tremor_w], axis=1)
        phase = rng.uniform(0.0, 2.0 * math.pi, amp.shape)
        return amp, freq, phase

    def _sway_at(self, t: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        amp, freq, phase = self._sway
        arg = t[:, None, None] * freq[None] + phase[None]            # (N, 3, M)
        return ((amp * np.sin(arg)).sum(axis=2),
                (amp * freq * np.cos(arg)).sum(axis=2))

    # -- planning -----------------------------------------------------------------------
    def _plan_set(self, tl: _Timeline, rng: np.random.Generator) -> Tuple[SetLabels, Dict]:
        """Append one set's phases; return its labels and summary."""
        cfg, sub, ex = self.cfg, self.subject, self.exercise
        n_fail = max(1, self._reps_to_failure)
        n_done = max(1, n_fail - cfg.stop_at_rir)
        vl_final = cfg.velocity_loss if cfg.velocity_loss is not None else \
            float(rng.uniform(0.2, 0.5))
        turn = 1.0   # progress at the turning point
        first_is_conc = ex.concentric_first

        def jitter(sigma: float = 0.06) -> float:
            return float(np.exp(rng.normal(0.0, sigma)))

        if rng.random() < cfg.false_start_prob:
            # grabs the weight, starts, stops, settles again: no rep
            tl.move(float(rng.uniform(0.08, 0.3)), float(rng.uniform(0.4, 0.9)))
            tl.move(0.0, float(rng.uniform(0.4, 0.9)))
            tl.hold(float(rng.uniform(0.8, 2.0)))
        reps: List[RepLabel] = []
        conc_durations = []
        for i in range(1, n_done + 1):
            x = (i - 1) / (n_fail - 1) if n_fail > 1 else 1.0   # 0 fresh .. 1 failure
            vl = vl_final * x ** sub.fatigue_power
            rom = turn * (1.0 - 0.08 * x ** 3 * rng.random()) * (1.0 + rng.normal(0.0, 0.02))
            t_conc = sub.concentric_s * rom / (1.0 - vl) * jitter()
            t_ecc = sub.eccentric_s * (1.0 + 0.25 * x ** 2 * rng.random()) * jitter(0.08)
            sticking = min(0.8, 0.7 * x ** 2)
            t_top = float(rng.uniform(0.05, 0.25)) * (1.0 + x)
            t_bottom = float(rng.uniform(0.1, 0.4)) + x ** 3 * float(rng.uniform(0.0, 1.0))
            if first_is_conc:
                start, peak = tl.move(rom, t_conc, sticking)
                tl.hold(t_top)
                _, end = tl.move(0.0, t_ecc)
            else:
                start, peak = tl.move(rom, t_ecc)
                tl.hold(t_top)
                _, end = tl.move(0.0, t_conc, sticking)
            conc_durations.append(t_conc)
            rir = n_fail - i
            reps.append(RepLabel(start=start, end=end, peak=peak, rir=rir,
                                 rpe=rpe_from_rir(rir)))
            if i < n_done:
                tl.hold(t_bottom)
        failed = False
        if cfg.stop_at_rir == 0 and rng.random() < cfg.failed_attempt_prob:
            # a last attempt that stalls part-way: not a rep, not labelled
            failed = True
            tl.hold(float(rng.uniform(0.5, 1.5)))
            high = float(rng.uniform(0.15, 0.5)) if first_is_conc else 0.0
            if first_is_conc:
                tl.move(high, conc_durations[-1] * float(rng.uniform(0.7, 1.1)), 0.5)
                tl.hold(float(rng.uniform(0.3, 0.9)))
                tl.move(0.0, float(rng.uniform(0.5, 1.0)))
        info = {'reps_to_failure': n_fail, 'reps': n_done, 'velocity_loss': vl_final,
                'failed_attempt': failed}
        return SetLabels(reps), info

    def _plan_rest(self, tl: _Timeline, duration: float, rng: np.random.Generator) -> None:
        """Rest with occasional fidgets: partial lifts, shaking out the arm."""
        end = tl.t + duration
        if self.cfg.fidgets:
            while True:
                gap = float(rng.exponential(20.0))
                move = float(rng.uniform(0.4, 1.5))
                if tl.t + gap + 2.0 * move + 1.0 > end:
                    break
                tl.hold(gap)
                tl.move(float(rng.uniform(0.05, 0.4)), move)
                tl.move(0.0, move * float(rng.uniform(0.8, 1.3)))
        tl.hold(end - tl.t)

    # -- rendering ----------------------------------------------------------------------
    def _render(self, phases: List[Phase], t_end: float) -> ImuBlock:
        cfg, sub, ex = self.cfg, self.subject, self.exercise
        n_end = int(math.floor((t_end - cfg.start_time) * cfg.rate_hz + 1e-9))
        n = np.arange(self._next_n, max(n_end, self._next_n))
        self._next_n = int(n[-1]) + 1 if len(n) else self._next_n
        t = cfg.start_time + n / cfg.rate_hz
        if not len(t):
            return ImuBlock.empty()
        q, qd, qdd = render_progress(t, phases)
        theta = sub.theta0_rad + sub.rom_rad * q
        axis = np.asarray(ex.axis, dtype=np.float64)
        sway, sway_d = self._sway_at(t)
        trans_dd = np.outer(qdd * sub.translation_m, np.asarray(ex.translation))
        f_s, w_s = wrist_imu(theta, sub.rom_rad * qd, sub.rom_rad * qdd, axis, ex.base,
                             ex.lever_vector() * sub.lever_m, trans_dd, sway, sway_d)
        return ImuBlock(t, *self._sense(f_s @ self.mount, w_s @ self.mount))

    def _sense(self, f: np.ndarray, w: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Apply scale error, drifting bias, white noise and saturation."""
        cfg, rng = self.cfg, self._sensor_rng
        n = f.shape[0]
        root_dt = math.sqrt(1.0 / cfg.rate_hz)
        acc_walk = self._acc_bias + np.cumsum(
            rng.normal(0.0, cfg.accel_bias_drift * root_dt, (n, 3)), axis=0)
        gyr_walk = self._gyr_bias + np.cumsum(
            rng.normal(0.0, cfg.gyro_bias_drift * root_dt, (n, 3)), axis=0)
        self._acc_bias, self._gyr_bias = acc_walk[-1].copy(), gyr_walk[-1].copy()
        acc = f * self._acc_scale + acc_walk + rng.normal(0.0, cfg.accel_noise, (n, 3))
        gyr = w * self._gyr_scale + gyr_walk + rng.normal(0.0, cfg.gyro_noise, (n, 3))
        a_max = cfg.accel_range_g * STANDARD_GRAVITY
        w_max = cfg.gyro_range_dps * DEG_TO_RAD
        return np.clip(acc, -a_max, a_max), np.clip(gyr, -w_max, w_max)

    # -- public -------------------------------------------------------------------------
    def bouts(self) -> Iterator[Bout]:
        """Yield the session's bouts in time order (endless when ``sets == 0``)."""
        cfg = self.cfg
        k = 0
        while cfg.sets == 0 or k < cfg.sets:
            rng = np.random.default_rng(self._set_seq.spawn(1)[0])
            tl = _Timeline(self._t_next)
            tl.hold(cfg.lead_in_s if k == 0 else float(rng.uniform(1.5, 3.0)))
            labels, info = self._plan_set(tl, rng)
            last = cfg.sets != 0 and k == cfg.sets - 1
            tl.hold(float(rng.uniform(1.0, 2.0)))
            if last:
                tl.hold(cfg.tail_s)
            else:
                rest = cfg.rest_s if cfg.rest_s is not None else float(rng.uniform(60.0, 150.0))
                self._plan_rest(tl, rest, rng)
                info['rest_s'] = rest
                # residual fatigue: the next set fails a little earlier
                self._reps_to_failure = max(3, self._reps_to_failure - int(rng.integers(0, 4)))
            self._t_next = tl.t
            self.meta['sets'].append(info)
            k += 1
            yield Bout(self._render(tl.phases, tl.t), labels, info)
