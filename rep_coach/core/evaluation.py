"""
Offline evaluation of a (segmenter, classifier) pair by causal streaming replay.

Every recording is replayed through fresh stages in ``block_s`` blocks, exactly
as the nodes drive them (through their sample gate, then ``seg.push``, then
``clf.on_rep`` per event; stage 2 gets each rep's raw signal with the event, not
the IMU stream).
The stages decide on their own fixed grid steps and stamp every event with the
sample that decided it, so the block size changes no event, stamp or verdict
(tested); the default of 1 s only makes replay cheaper than the nodes' 50 ms.
What the nodes published during a recorded session is scored the same way: its
``reps`` and ``near_failure`` messages make a :class:`Replay`
(:func:`recorded_replay`) that :func:`score_replays` scores like any other.
Metrics (all times on the recording's timeline):

Segmentation
  * ``sample_f1`` - per 100 Hz sample of each set (first rep start - 1 s to last
    rep end + 1 s): truth positive within +-0.4 s of a true rep end, prediction
    positive within +-0.4 s of a detected rep end.
  * ``event_f1`` - detected rep ends matched one-to-one (Hungarian, by distance)
    to true rep ends within +-0.3 s.
  * ``count_mae`` - mean |detected - true| reps per set (detections assigned to
    the set whose time span, extended halfway to the neighbouring sets, holds
    their end).
  * ``cue_delay_p50_s`` / ``cue_delay_p90_s`` - ``stamp - true end`` of matched events.

Near failure (ASSUMPTION: near failure = RPE >= 8, i.e. RIR <= 2)
  * ``rep_*`` - per true rep with an RPE: true reps are matched one-to-one to
    detected reps by interval overlap (IoU >= 0.5); the prediction is the state
    returned by ``on_rep`` for that event; an unmatched true rep is predicted
    negative (a positive one is a miss).  Detections matching no true rep are
    not scored here (they are in ``window_*``).
  * ``window_*`` - the set from first rep start to last rep end is tiled in
    0.64 s windows; a window is positive when its centre lies in a true rep with
    RPE >= 8; the prediction is the latest state with ``stamp`` <= the window end
    (from this set: states stamped before its first rep start are ignored).  A
    classifier that decides per window itself (the published design, see
    ``rep_coach.training.reference``) exposes ``window_states``; those are then
    the states looked up, instead of its per-rep verdicts.
  * ``rir_mae`` - over matched reps where both RIR are known.

A recording cut short (a bag whose recorder was killed) may hold a rep's label but
stop before the system could decide on that rep.  :func:`leave_out_cut_reps` leaves
out the true reps ending later than the last IMU sample minus ``CUT_MARGIN_S`` and
notes the cut in ``meta[SCORED_UNTIL]``; :func:`score_recording` then leaves out the
detections ending after it too, in every column alike, as if the recording had
ended before those reps.  Datasets are complete and are not cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import sys
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from rep_coach.core.stages import NearFailureClassifier, RepSegmenter
from rep_coach.core.types import (ImuBlock, ImuRecording, NearFailureState, RepEvent, RepLabel,
                                  rir_class)
from rep_coach.core.validation import GatedStream
from scipy.optimize import linear_sum_assignment

#: RPE at or above which a rep counts as near failure (RIR <= 2): our assumption.
NEAR_FAILURE_RPE = 8.0
ASSUMPTION = 'near failure = RPE >= 8 (RIR <= 2), an assumption of rep_coach'
SAMPLE_RATE_HZ = 100.0
SAMPLE_TOL_S = 0.4
EVENT_TOL_S = 0.3
#: sample_f1 scores a set from its first rep's start minus this to its last end plus this.
SET_MARGIN_S = 1.0
WINDOW_S = 0.64
#: Replay block, s: any size gives the same results (see the module docstring).
REPLAY_BLOCK_S = 1.0
REP_MIN_IOU = 0.5
#: A rep ending less than this before a recording's last IMU sample cannot be judged:
#: the live segmenter decides about 0.4 s after a rep's end, so a recording cut sooner
#: than that after it never gave the system the chance (1.0 s leaves room for the
#: learned segmenter's spread and a slow node).
CUT_MARGIN_S = 1.0
#: Key of ``ImuRecording.meta``: detections ending after this time are not scored.
SCORED_UNTIL = 'scored_until'

SegmenterFactory = Callable[[], RepSegmenter]
ClassifierFactory = Callable[[], NearFailureClassifier]


@dataclass
class Counts:
    """Confusion counts of a binary decision."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __iadd__(self, other: 'Counts') -> 'Counts':
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn
        return self

    def prf(self) -> Tuple[float, float, float]:
        """Return (precision, recall, F1); NaN where undefined."""
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else float('nan')
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else float('nan')
        f = 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else (
            0.0 if self.fp + self.fn else float('nan'))
        return p, r, f

    @classmethod
    def of(cls, truth: np.ndarray, pred: np.ndarray) -> 'Counts':
        """Count from boolean arrays."""
        truth, pred = np.asarray(truth, bool), np.asarray(pred, bool)
        return cls(int(np.sum(truth & pred)), int(np.sum(~truth & pred)),
                   int(np.sum(truth & ~pred)), int(np.sum(~truth & ~pred)))


# -- metric primitives (pure functions, unit-tested on hand-made cases) ----------------------
def match_events(true_t: Sequence[float], pred_t: Sequence[float],
                 tol: float = EVENT_TOL_S) -> List[Tuple[int, int]]:
    """Match times one-to-one within ``tol`` minimising total distance; return index pairs."""
    a, b = np.asarray(true_t, float), np.asarray(pred_t, float)
    if a.size == 0 or b.size == 0:
        return []
    dist = np.abs(a[:, None] - b[None, :])
    big = 1e6
    rows, cols = linear_sum_assignment(np.where(dist <= tol, dist, big))
    return [(int(i), int(j)) for i, j in zip(rows, cols) if dist[i, j] <= tol]


def event_counts(true_t: Sequence[float], pred_t: Sequence[float],
                 tol: float = EVENT_TOL_S) -> Counts:
    """Event-level counts: matched = TP, unmatched detections = FP, unmatched truth = FN."""
    m = len(match_events(true_t, pred_t, tol))
    return Counts(tp=m, fp=len(pred_t) - m, fn=len(true_t) - m)


def near_mask(grid: np.ndarray, times: Sequence[float], tol: float) -> np.ndarray:
    """Boolean mask of ``grid`` points within ``tol`` of any of ``times``."""
    times = np.sort(np.asarray(times, float))
    if times.size == 0:
        return np.zeros(grid.shape, bool)
    k = np.searchsorted(times, grid)
    left = np.abs(grid - times[np.clip(k - 1, 0, times.size - 1)])
    right = np.abs(times[np.clip(k, 0, times.size - 1)] - grid)
    return np.minimum(left, right) <= tol + 1e-9


def sample_counts(t0: float, t1: float, true_t: Sequence[float], pred_t: Sequence[float],
                  tol: float = SAMPLE_TOL_S, rate_hz: float = SAMPLE_RATE_HZ) -> Counts:
    """Per-sample counts on a ``rate_hz`` grid over [t0, t1]."""
    grid = np.arange(t0, t1, 1.0 / rate_hz)
    return Counts.of(near_mask(grid, true_t, tol), near_mask(grid, pred_t, tol))


def set_window(first_start: float, last_end: float) -> Tuple[float, float]:
    """Return the span of a set that ``sample_f1`` scores: its reps +- :data:`SET_MARGIN_S`."""
    return first_start - SET_MARGIN_S, last_end + SET_MARGIN_S


def set_segmentation_counts(true_end: Sequence[float], pred_end: Sequence[float],
                            first_start: float) -> Tuple[Counts, Counts]:
    """(sample, event) counts of one set; samples over its :func:`set_window`."""
    t0, t1 = set_window(first_start, true_end[-1])
    return sample_counts(t0, t1, true_end, pred_end), event_counts(true_end, pred_end)


def match_intervals(true_iv: Sequence[Tuple[float, float]],
                    pred_iv: Sequence[Tuple[float, float]],
                    min_iou: float = REP_MIN_IOU) -> List[Tuple[int, int]]:
    """Match intervals one-to-one maximising IoU, keeping pairs with IoU >= ``min_iou``."""
    if not true_iv or not pred_iv:
        return []
    a, b = np.asarray(true_iv, float), np.asarray(pred_iv, float)
    inter = np.clip(np.minimum(a[:, None, 1], b[None, :, 1])
                    - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    union = (a[:, None, 1] - a[:, None, 0]) + (b[None, :, 1] - b[None, :, 0]) - inter
    iou = inter / np.maximum(union, 1e-9)
    rows, cols = linear_sum_assignment(-iou)
    return [(int(i), int(j)) for i, j in zip(rows, cols) if iou[i, j] >= min_iou]


# -- replay ---------------------------------------------------------------------------------
@dataclass
class Replay:
    """
    What the stages emitted for one recording (or the nodes published, as recorded).

    ``states[i]`` is the verdict on ``events[i]``; a recorded event whose verdict was
    never published has None there (see :func:`recorded_replay`).
    """

    events: List[RepEvent] = field(default_factory=list)
    states: List[Optional[NearFailureState]] = field(default_factory=list)
    #: Per-window verdicts of a classifier that decides per window (else empty).
    window_states: List[NearFailureState] = field(default_factory=list)


def replay(recording: ImuRecording, segmenter: RepSegmenter,
           classifier: Optional[NearFailureClassifier],
           block_s: float = REPLAY_BLOCK_S) -> Replay:
    """
    Stream ``recording`` through the stages in ``block_s`` blocks, as the nodes do.

    The samples pass the nodes' sample gate on the way (:class:`GatedStream`): what it
    drops live (NaN, absurd values, repeated stamps) is dropped here, and a jump of
    the stamps resets the segmenter or resumes it over a hole where the nodes did.  A
    clean recording passes unchanged.  The nodes push ~50 ms blocks; results do not
    depend on the block size.
    """
    out = Replay()
    imu = recording.imu
    n = len(imu)
    if n == 0:
        return out

    def segment(block: ImuBlock) -> None:
        for event in segmenter.push(block):
            out.events.append(event)
            if classifier is not None:
                out.states.append(classifier.on_rep(event))

    stream = GatedStream()
    step = max(1, int(round(block_s * recording.rate_hz)))
    for i in range(0, n, step):
        stream.push(imu.slice(i, i + step), segment, segmenter.reset, segmenter.resume)
    out.window_states = list(getattr(classifier, 'window_states', ()))
    return out


def recorded_replay(events: Sequence[RepEvent], states: Sequence[NearFailureState]) -> Replay:
    """
    Return the replay the nodes performed live, from their published messages.

    ``events`` are the ``reps`` payloads and ``states`` the ``near_failure`` ones.  A
    verdict is paired with the event it was given on by set, rep and stamp (the
    classifiers stamp a verdict with its event's stamp, and set numbers never repeat
    within a segmenter's life), not by position: a verdict lost or recorded without
    its event must not shift every later pairing.  An event without a verdict gets
    None (the lifter was told nothing about it: scored as not near failure); verdicts
    without an event are left out.  Events are ordered by stamp, as a replay emits them.
    """
    pending: Dict[Tuple[int, int, float], List[NearFailureState]] = {}
    for state in states:
        pending.setdefault((state.set_index, state.rep_index, state.stamp), []).append(state)
    out = Replay(events=sorted(events, key=lambda e: e.stamp))
    for event in out.events:
        same = pending.get((event.set_index, event.rep_index, event.stamp))
        out.states.append(same.pop(0) if same else None)
    return out


def leave_out_cut_reps(recording: ImuRecording, margin_s: float = CUT_MARGIN_S) -> int:
    """
    Drop the true reps ending after the last IMU sample minus ``margin_s``; return how many.

    Sets left without reps are dropped too.  ``meta[SCORED_UNTIL]`` records the cut
    so that :func:`score_recording` leaves out the detections ending after it as well.
    """
    if not len(recording.imu):
        return 0
    until = float(recording.imu.t[-1]) - margin_s
    recording.meta[SCORED_UNTIL] = until
    before = sum(len(s.reps) for s in recording.sets)
    for labels in recording.sets:
        labels.reps = [r for r in labels.reps if r.end <= until]
    recording.sets = [s for s in recording.sets if s.reps]
    return before - sum(len(s.reps) for s in recording.sets)


# -- per-set scoring ------------------------------------------------------------------------
@dataclass
class SetScore:
    """Raw scores of one labelled set, pooled later."""

    name: str
    subject: Optional[str]
    n_true: int
    n_pred: int
    sample: Counts
    event: Counts
    delays: List[float]
    rep: Counts
    window: Counts
    rir_errors: List[float]
    duration_s: float
    #: Ordinal of the set among its recording's labelled sets, from 1.
    set_number: int = 1


def _is_nf(rep: RepLabel) -> Optional[bool]:
    return None if rep.rpe is None else bool(rep.rpe >= NEAR_FAILURE_RPE)


def window_truth(centers: np.ndarray, reps: Sequence[RepLabel]) -> Tuple[np.ndarray, np.ndarray]:
    """Per window centre: (inside a near-failure rep, inside a rep with an RPE)."""
    truth = np.zeros(centers.shape, bool)
    labelled = np.zeros(centers.shape, bool)
    for rep in reps:
        inside = (centers >= rep.start) & (centers < rep.end)
        labelled |= inside & (rep.rpe is not None)
        truth |= inside & bool(_is_nf(rep))
    return truth, labelled


def score_recording(recording: ImuRecording, result: Replay) -> List[SetScore]:
    """
    Score one replay against every labelled set of its recording.

    Detections ending after ``meta[SCORED_UNTIL]`` (a cut recording) are left out, with
    their verdicts: the true reps they could match were left out there.
    """
    until = recording.meta.get(SCORED_UNTIL)
    if until is not None:
        keep = [i for i, e in enumerate(result.events) if e.end <= until]
        paired = len(result.states) == len(result.events)
        result = Replay([result.events[i] for i in keep],
                        [result.states[i] for i in keep] if paired else result.states,
                        result.window_states)
    sets = [s for s in recording.sets if s.reps]
    spans = [(s.reps[0].start, s.reps[-1].end) for s in sets]
    scores = []
    for k, labels in enumerate(sets):
        lo = -math.inf if k == 0 else (spans[k - 1][1] + spans[k][0]) / 2
        hi = math.inf if k == len(sets) - 1 else (spans[k][1] + spans[k + 1][0]) / 2
        idx = [i for i, e in enumerate(result.events) if lo <= e.end < hi]
        events = [result.events[i] for i in idx]
        states = ([result.states[i] for i in idx]
                  if len(result.states) == len(result.events) else [])
        verdicts = result.window_states or [s for s in result.states if s is not None]
        score = _score_set(recording, labels.reps, events, states,
                           [s for s in verdicts if lo <= s.stamp < hi])
        score.set_number = k + 1
        scores.append(score)
    return scores


def _score_set(recording: ImuRecording, reps: List[RepLabel], events: List[RepEvent],
               states: List[Optional[NearFailureState]],
               all_states: List[NearFailureState]) -> SetScore:
    true_end = [r.end for r in reps]
    pred_end = [e.end for e in events]
    sample, event = set_segmentation_counts(true_end, pred_end, reps[0].start)
    t0, t1 = set_window(reps[0].start, true_end[-1])
    pairs = match_events(true_end, pred_end)
    delays = [events[j].stamp - true_end[i] for i, j in pairs]
    # Near failure per true rep.
    rep_counts, rir_errors = Counts(), []
    rep_pairs = dict(match_intervals([(r.start, r.end) for r in reps],
                                     [(e.start, e.end) for e in events]))
    for i, rep in enumerate(reps):
        truth = _is_nf(rep)
        if truth is None:
            continue
        state = states[rep_pairs[i]] if (i in rep_pairs and states) else None
        pred = bool(state.near_failure) if state is not None else False
        rep_counts += Counts.of(np.array([truth]), np.array([pred]))
        if state is not None and state.rir is not None and rep.rir is not None:
            # A label's reserve may exceed the top class (the simulator's count all reps
            # left); the estimate's top class means "that many or more".
            rir_errors.append(abs(state.rir - rir_class(rep.rir)))
    # Near failure per window.
    edges = np.arange(reps[0].start, reps[-1].end - WINDOW_S / 2, WINDOW_S)
    centers, ends = edges + WINDOW_S / 2, edges + WINDOW_S
    win_truth, has_label = window_truth(centers, reps)
    win_pred = np.zeros(edges.size, bool)
    st = [s for s in all_states if s.stamp >= reps[0].start]
    if st:
        stamps = np.array([s.stamp for s in st])
        flags = np.array([s.near_failure for s in st], bool)
        k = np.searchsorted(stamps, ends, side='right') - 1
        win_pred = np.where(k >= 0, flags[np.clip(k, 0, None)], False)
    window = Counts.of(win_truth[has_label], win_pred[has_label])
    return SetScore(name=recording.name, subject=recording.subject, n_true=len(reps),
                    n_pred=len(events), sample=sample, event=event, delays=delays,
                    rep=rep_counts, window=window, rir_errors=rir_errors,
                    duration_s=t1 - t0)


# -- aggregation ----------------------------------------------------------------------------
def _r(x: float) -> Optional[float]:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def aggregate(scores: Sequence[SetScore]) -> Dict[str, Any]:
    """Pool set scores into the metrics dict (segmentation and near_failure)."""
    sample, event, rep, window = Counts(), Counts(), Counts(), Counts()
    delays: List[float] = []
    rir: List[float] = []
    for s in scores:
        sample += s.sample
        event += s.event
        rep += s.rep
        window += s.window
        delays += s.delays
        rir += s.rir_errors
    sp, sr, sf = sample.prf()
    ep, er, ef = event.prf()
    rp, rr, rf = rep.prf()
    wp, wr, wf = window.prf()
    d = np.asarray(delays)
    return {
        'segmentation': {
            'sample_f1': _r(sf), 'sample_precision': _r(sp), 'sample_recall': _r(sr),
            'event_f1': _r(ef), 'event_precision': _r(ep), 'event_recall': _r(er),
            'count_mae': _r(float(np.mean([abs(s.n_pred - s.n_true) for s in scores]))
                            if scores else float('nan')),
            'cue_delay_p50_s': _r(float(np.percentile(d, 50)) if d.size else float('nan')),
            'cue_delay_p90_s': _r(float(np.percentile(d, 90)) if d.size else float('nan')),
            'n_true_reps': int(sum(s.n_true for s in scores)),
            'n_detected_reps': int(sum(s.n_pred for s in scores)),
        },
        'near_failure': {
            'rep_f1': _r(rf), 'rep_precision': _r(rp), 'rep_recall': _r(rr),
            'window_f1': _r(wf), 'window_precision': _r(wp), 'window_recall': _r(wr),
            'rir_mae': _r(float(np.mean(rir)) if rir else float('nan')),
            'n_positive_reps': int(rep.tp + rep.fn),
            'assumption': ASSUMPTION,
        },
        'n_sets': len(scores),
    }


def evaluate(recordings: Iterable[ImuRecording], segmenter_factory: SegmenterFactory,
             classifier_factory: Optional[ClassifierFactory] = None, *,
             block_s: float = REPLAY_BLOCK_S, progress: bool = False,
             per_subject: bool = True, per_recording: bool = False,
             per_set: bool = False) -> Dict[str, Any]:
    """
    Replay every recording through fresh stages and return pooled metrics.

    The result has ``segmentation`` and ``near_failure`` dicts, ``n_sets``,
    ``per_subject`` (the same metrics per subject) and ``speed_x_realtime``; on
    request ``per_recording`` (keyed by recording name) and ``per_set`` (keyed
    ``<recording>:<n>``, n counting the recording's labelled sets from 1).
    """
    import time
    recordings = list(recordings)
    iterator: Iterable[ImuRecording] = recordings
    if progress:
        from tqdm import tqdm
        iterator = tqdm(recordings, desc='evaluate', unit='set', file=sys.stderr)
    scores: List[SetScore] = []
    seconds, busy = 0.0, 0.0
    for rec in iterator:
        seg = segmenter_factory()
        clf = classifier_factory() if classifier_factory is not None else None
        tic = time.perf_counter()
        result = replay(rec, seg, clf, block_s)
        busy += time.perf_counter() - tic
        if len(rec.imu):
            seconds += float(rec.imu.t[-1] - rec.imu.t[0])
        scores.extend(score_recording(rec, result))
    return _summary(scores, per_subject, per_recording, per_set,
                    speed_x_realtime=round(seconds / busy, 1) if busy > 0 else None)


def score_replays(replays: Iterable[Tuple[ImuRecording, Replay]], *, per_subject: bool = True,
                  per_recording: bool = False, per_set: bool = False) -> Dict[str, Any]:
    """
    Score replays made elsewhere (e.g. :func:`recorded_replay`) as :func:`evaluate` does.

    The result is :func:`evaluate`'s without ``speed_x_realtime``.
    """
    scores: List[SetScore] = []
    for recording, result in replays:
        scores.extend(score_recording(recording, result))
    return _summary(scores, per_subject, per_recording, per_set)


def _summary(scores: Sequence[SetScore], per_subject: bool, per_recording: bool,
             per_set: bool, **extra: Any) -> Dict[str, Any]:
    """Pool ``scores`` (:func:`aggregate`), add ``extra``, then the breakdowns asked for."""
    out = aggregate(scores)
    out.update(extra)
    if per_subject:
        out['per_subject'] = _breakdown(scores, lambda s: s.subject or '?', sort=True)
    if per_recording:
        out['per_recording'] = _breakdown(scores, lambda s: s.name)
    if per_set:
        out['per_set'] = _breakdown(scores, lambda s: f'{s.name}:{s.set_number}')
    return out


def _breakdown(scores: Sequence[SetScore], key: Callable[[SetScore], str],
               sort: bool = False) -> Dict[str, Dict[str, Any]]:
    """Aggregate ``scores`` per ``key`` (in order of appearance, or sorted)."""
    groups: Dict[str, List[SetScore]] = {}
    for score in scores:
        groups.setdefault(key(score), []).append(score)
    names = sorted(groups) if sort else list(groups)
    return {name: aggregate(groups[name]) for name in names}


def subject_of(recording: ImuRecording) -> str:
    """Subject of ``recording`` for leave-one-subject-out ('?' when unknown)."""
    return recording.subject or '?'


def held_out_subjects(recordings: Sequence[ImuRecording],
                      train: Sequence[ImuRecording]) -> List[str]:
    """Subjects of ``recordings`` that ``train`` lacks: what a fold holds out."""
    return sorted({subject_of(r) for r in recordings} - {subject_of(r) for r in train})


def leave_one_subject_out(
        recordings: Sequence[ImuRecording],
        fit: Callable[[List[ImuRecording]], Tuple[SegmenterFactory, ClassifierFactory]],
        block_s: float = REPLAY_BLOCK_S, progress: bool = False) -> Dict[str, Any]:
    """
    Fit on all subjects but one, evaluate on that one, pool the held-out scores.

    ``fit(train_recordings) -> (segmenter_factory, classifier_factory or None)``.  Returns
    the pooled metrics plus ``per_subject`` (each held-out subject's metrics).
    """
    subjects = sorted({subject_of(r) for r in recordings})
    pooled: List[SetScore] = []
    per: Dict[str, Any] = {}
    for sub in subjects:
        train = [r for r in recordings if subject_of(r) != sub]
        test = [r for r in recordings if subject_of(r) == sub]
        seg_f, clf_f = fit(train)
        scores: List[SetScore] = []
        for rec in test:
            seg = seg_f()  # before the classifier: a per-window one is a view of it
            clf = clf_f() if clf_f is not None else None
            scores.extend(score_recording(rec, replay(rec, seg, clf, block_s)))
        per[sub] = aggregate(scores)
        pooled.extend(scores)
        if progress:
            print(f'held out {sub}: {len(test)} sets', file=sys.stderr)
    out = aggregate(pooled)
    out['per_subject'] = per
    return out
