"""
Stage 1, learned: streaming causal TCN segmenter run with onnxruntime.

Every ``hop`` samples of the 100 Hz grid (0.1 s by default: 10 updates/s) the
ONNX model consumes exactly those new samples plus its packed state (the past
inputs of every dilated causal conv) and returns their per-sample
probabilities; the state makes the output identical to running the network
over the whole recording at once.  Samples are processed in whole hops only,
so how the stream is split into blocks changes nothing (events, stamps).

Input: the mounting-invariant channels of
:mod:`rep_coach.learned.kinematic_input` (gravity-referenced forearm angle,
signed principal-axis rate, |omega|, |a| - g).  Hops lie on the absolute 100 Hz
grid (indices ``10 m .. 10 m + 9``), as in training.  Per-rep features come
from :mod:`rep_coach.core.rep_features` on the same rate, integrated over each rep.

Range-of-motion check: a rep end the picker finds is a new rep only if the arm
came down from a top since the previous rep of the set: the forearm angle's drop
from its highest point since that rep to the candidate end must be at least
``min_excursion_ratio`` of the previous rep's drop.  After the last rep of a set
the lifter lowers, shifts or puts down the weight; the network, trained on labels
whose last rep ends when the arm comes to rest, often marks that settling as a
second end (thomas2025, LOSO: one extra rep in about half of the sets).  The
ratio is relative, so it holds for any exercise's range of motion, and 0.5
leaves room for a slow, shortened rep near failure.

A set's first rep has no previous rep to be checked against, so it needs a sure
end instead: a picker run peaking at ``FIRST_REP_MIN_PEAK`` or more.  The picker
starts runs as low as 0.25 for a new lifter's slow reps near failure, which come
late in a set, never first; at rest the arm's fidgets (a partial lift, shaking it
out) can make such a weak run, and every one would open a new set with a spurious
rep.  On the simulator's hour with fidgets (seed 11) the set-opening runs peaked at
0.26-0.39 for the 5 spurious reps and at 0.90 or more for the 44 real first reps;
held out on thomas2025 the real first reps peaked at 0.70 or more.

What the network saw and said is kept for the last ``history_s`` (30 s by
default, so a node's memory stays bounded) and returned by :meth:`signals`:
``rep-coach plot`` keeps a whole recording to draw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from rep_coach.core.history import RowHistory
from rep_coach.core.rep_features import rep_kinematics, SetFeatureTracker
from rep_coach.core.rep_signal import RepSignalBuffer
from rep_coach.core.resample import hop_slices, StreamResampler
from rep_coach.core.types import ImuBlock, opens_new_set, RepEvent, SET_REST_S
from rep_coach.learned.events import EndPicker, PickerConfig
from rep_coach.learned.kinematic_input import HOP, KinematicInput, N_INPUTS
from rep_coach.learned.onnx_model import OnnxModel, TensorSpec
from rep_coach.learned.preprocess import RATE_HZ, sigmoid

#: ONNX interface of ``segmenter.onnx`` (state width comes from the metadata).
SEGMENTER_INPUTS = (TensorSpec('imu', (1, N_INPUTS, None)),
                    TensorSpec('state', (1, None, None)))
SEGMENTER_OUTPUTS = (TensorSpec('logits', (1, 2, None)),
                     TensorSpec('state_out', (1, None, None)))

#: A candidate end needs this fraction of the previous rep's angle drop (module docstring).
MIN_EXCURSION_RATIO = 0.5
#: A set's first rep needs a picker run this sure (the network's own decision level).
FIRST_REP_MIN_PEAK = 0.5
#: How much earlier than the network's "inside a rep" onset a set's first lift is sought.
FIRST_REP_LEAD_S = 1.5
#: Longest first rep assumed when that onset is older (a slow curl takes about 5 s).
FIRST_REP_MAX_S = 6.0
#: Default span of :meth:`LearnedSegmenter.signals`, s (the baseline's ``history_s``).
HISTORY_S = 30.0


@dataclass(frozen=True)
class LearnedSignals:
    """
    What the segmenter saw and said on the 100 Hz grid, one column per sample.

    ``inputs`` are the network's input channels exactly as fed to it (scaled and
    clipped, see :mod:`rep_coach.learned.kinematic_input`); ``p_end`` is the
    rep-end probability the :class:`~rep_coach.learned.events.EndPicker` reads and
    ``p_active`` the "inside a rep" probability a set's first rep starts from.
    """

    t: np.ndarray           # (n,) grid times, s
    inputs: np.ndarray      # (N_INPUTS, n)
    p_end: np.ndarray       # (n,)
    p_active: np.ndarray    # (n,)


def angle_drop(t: np.ndarray, theta: np.ndarray, since: float, end: float) -> float:
    """Drop of the angle ``theta`` from its top in ``(since, end]`` to its value at ``end``."""
    i0, i1 = np.searchsorted(t, [since, end], side='right')
    if i1 <= i0:
        return 0.0
    return float(theta[i0:i1].max() - theta[i1 - 1])


class LearnedSegmenter:
    """:class:`~rep_coach.core.stages.RepSegmenter` backed by ``segmenter.onnx``."""

    def __init__(self, model: OnnxModel, set_rest_s: float = SET_REST_S,
                 picker: Optional[PickerConfig] = None,
                 min_excursion_ratio: float = MIN_EXCURSION_RATIO,
                 history_s: float = HISTORY_S) -> None:
        """
        Wrap a loaded model; one update per 0.1 s hop of the 100 Hz grid.

        ``history_s`` is how much of :meth:`signals` is kept; it changes no event.
        """
        self.model = model
        self.history_s = float(history_s)
        self.min_excursion_ratio = float(min_excursion_ratio)
        meta = model.meta_json('rep_coach')
        self.state_shape = (1, int(meta['channels']), int(meta['state_len']))
        self.picker_config = picker or PickerConfig(**meta.get('picker', {}))
        self.set_rest_s = float(set_rest_s)
        self.set_index = 0
        self.reset()

    def reset(self) -> None:
        """
        Forget the stream (a new session, or a jump of the sensor clock).

        Set numbers keep rising across a reset: a consumer (the coach) must never see
        a finished set's numbers again, or it takes the new reps for repeats.
        """
        self.signal = RepSignalBuffer(rate_hz=RATE_HZ)  # raw grid: each RepEvent's signal
        self.kin = KinematicInput()
        self.features = SetFeatureTracker()
        self._restart_signal()
        self._last_end: Optional[float] = None
        self._last_excursion = 0.0      # angle drop (rad) of the set's previous rep
        #: Candidate ends dropped by the range-of-motion check (for diagnostics).
        self.rejected = 0
        #: Candidate first reps of a set dropped for an unsure end (for diagnostics).
        self.unsure_first = 0
        self.rep_index = 0
        # Columns: t, the N_INPUTS input channels, p_end, p_active (see signals()).
        self._history = RowHistory(max(1, int(round(self.history_s * RATE_HZ))), N_INPUTS + 3)

    def resume(self) -> None:
        """
        Go on after a hole in the same stream (its samples stopped for a while).

        Only the arm's filters start afresh, from the first pose after the hole
        (:meth:`ArmPose.resume`); what a hole does not change stays: the extended pose
        (the sensor did not move on the wrist), the network's state and the end
        picker's run, the samples kept before the hole, and the set under way (its
        numbers, the previous rep's end and range, the features' reference reps), so
        the set goes on counting and the rep the hole cut can still end; a rest of
        ``set_rest_s`` still opens a new set.  The resampler does not bridge the hole:
        the network reads the samples after it as following those before.
        Why (``scripts/hole_resume.py``, 30 cases on thomas2025: 15 sets, a hole mid
        first rep and one before a middle rep's top; kept = every end after the hole
        met but the set's last): a reset kept 9-18 of them for holes of 2.1-15 s (the
        first still pose after the hole, often a rep's top, became the extended pose);
        restarting the network and the picker as well kept 24-25; this keeps 28-30,
        with 1 end detected that is not a rep in the 90 cases of 2.1, 8 and 15 s.
        """
        self.kin.resume()

    def _restart_signal(self) -> None:
        """Start the resampler, the network's state and the end picker afresh."""
        self.resampler = StreamResampler(RATE_HZ)
        self.picker = EndPicker(self.picker_config)
        self.state = np.zeros(self.state_shape, dtype=np.float32)
        self._pending = ImuBlock.empty()
        self._active_since: Optional[float] = None  # start of the current "in a rep" run

    def push(self, block: ImuBlock) -> List[RepEvent]:
        """Consume raw IMU samples; return the reps decided by them."""
        grid = self.resampler.push(block)
        if len(grid) == 0:
            return []
        pending = ImuBlock.concat([self._pending, grid])
        k = np.rint(pending.t * RATE_HZ).astype(np.int64)
        hops = hop_slices(k, HOP)
        self._pending = pending.slice(hops[-1][1] if hops else 0, None)
        if not hops:
            return []
        done = pending.slice(0, hops[-1][1])
        self.signal.append(done.t, done.accel, done.gyro)
        # The input channels are made hop by hop (their state changes per hop, as
        # in training); the network then runs once over all complete hops of this
        # call: its packed state makes that identical to one run per hop, and a
        # large block (offline evaluation) costs one call instead of ten per second.
        x = np.concatenate([self.kin.push_hop(done.slice(i0, i1)) for i0, i1 in hops], axis=1)
        logits, self.state = self.model.run(imu=x[None], state=self.state)
        p = sigmoid(logits[0])
        self._history.append(done.t, x.T, p[0], p[1])
        events: List[RepEvent] = []
        for i0, i1 in hops:
            t = done.t[i0:i1]
            self._track_activity(t, p[1, i0:i1])
            # Stamp = the last sample of the hop whose update decided the rep, as
            # when the hops arrive one by one.
            for picked in self.picker.update(t, p[0, i0:i1]):
                event = self._event(picked.end, float(t[-1]), picked.peak)
                if event is not None:
                    events.append(event)
        return events

    def signals(self) -> LearnedSignals:
        """Return the kept inputs and outputs (at least the last ``history_s``), oldest first."""
        rows = self._history.rows.copy()   # the buffer is reused by the next push
        return LearnedSignals(t=rows[:, 0], inputs=rows[:, 1:1 + N_INPUTS].T,
                              p_end=rows[:, 1 + N_INPUTS], p_active=rows[:, 2 + N_INPUTS])

    def _track_activity(self, t: np.ndarray, active: np.ndarray) -> None:
        # Remember where the current run of "inside a rep" began: the first rep of
        # a set starts there (later reps start where the previous one ended).
        for ti, ai in zip(t, active):
            if ai >= 0.5 and self._active_since is None:
                self._active_since = float(ti)
            elif ai < 0.3:
                self._active_since = None

    def _lift_start(self, t: np.ndarray, omega: np.ndarray, end: float) -> float:
        # Where the lift of the rep ending at ``end`` left the bottom: a set's first
        # rep starts there, and the rest before any rep is measured to there.
        # The "inside a rep" output rises only once the network has seen the lift
        # begin (thomas2025 LOSO: a median 0.68 s after the labelled start), which
        # cut the first concentric short and biased every duration and concentric
        # ratio of the set (the first reps are their reference).  So look
        # FIRST_REP_LEAD_S further back and start where the lift left the bottom.
        # The onset can be stale (the output may idle between 0.3 and 0.5 through a
        # rest), so it is taken no earlier than FIRST_REP_MAX_S before the end.
        late = self._active_since if self._active_since is not None else end - 2.5
        window = min(max(late, end - FIRST_REP_MAX_S), end - 0.5) - FIRST_REP_LEAD_S
        lift = rep_kinematics(t, None, omega, window, end).lift_start
        return lift if np.isfinite(lift) else window + FIRST_REP_LEAD_S

    def _event(self, end: float, stamp: float, peak: float) -> Optional[RepEvent]:
        t, theta, omega = self.kin.signals()
        # The rest ends where this rep's lift began, not at its end: set_rest_s is the
        # rest between the reps, whatever the rep's own duration (the baseline's rule).
        lift = self._lift_start(t, omega, end)
        new_set = opens_new_set(self._last_end, lift, self.set_rest_s)
        if new_set and peak < FIRST_REP_MIN_PEAK:
            self.unsure_first += 1
            return None
        # Within a set a rep starts where the previous one ended (no rest between).
        start = lift if new_set else self._last_end
        excursion = angle_drop(t, theta, start, end)
        if not new_set and excursion < self.min_excursion_ratio * self._last_excursion:
            self.rejected += 1
            return None
        self._last_excursion = excursion
        if new_set:
            self.set_index += 1
            self.rep_index = 0
            self.features.reset()
        self.rep_index += 1
        self._last_end = end
        # Features on the rate integrated over the rep, not on the gravity angle: its
        # low-pass makes it trail the rotation, which put the top late and read the
        # start of the lowering as a slower lift (velocity-loss AUC 0.87 vs 0.91).
        feats = self.features.add(rep_kinematics(t, None, omega, start, end))
        return RepEvent(set_index=self.set_index, rep_index=self.rep_index, start=start,
                        end=end, stamp=stamp, peak=None, features=feats,
                        signal=self.signal.cut(start, end))
