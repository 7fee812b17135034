"""
The published-size reference, trained on this CPU and evaluated with the same harness.

Segmenter: :class:`RefResNet` (~828 k params) on 256-sample windows, one window
every 0.64 s (64 samples).  The network is non-causal inside its window (its
edges see zero padding), so the decision uses the window's *central* 64 samples
(96..159): every sample is then judged with 0.96 s of context on both sides, at
the price of ~1 s more cue delay.  Those probabilities go through the same
:class:`EndPicker` as ours, so the comparison isolates network and update rate.

Near-failure classifier: :class:`RefClassifier` (~17 M params), one step per
window: a conv encoder of the window (the six scaled axes plus the segmenter's
probability as a seventh channel) and :data:`SEG_FEATURES` values derived from
the reference's own rep events, into a 2 x 1024 LSTM whose state runs over the
windows of the recording.  The paper names its inputs but not the segmentation
features; ours are listed in :meth:`RefPipeline._seg_features`.  A window is
labelled near failure when its newest hop's centre lies in a rep with RPE >= 8
(the harness's window truth); a rep's verdict is that of the window which
emitted the rep.  The classifier is trained on the windows the fold's own
segmenter produces on the training recordings (inputs as they are live).

CPU limits: both are trained for far fewer sample presentations than a GPU
would allow (``steps`` x 16 segmenter windows, ``epochs`` passes over the
training windows) - reported as such.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import json
import logging
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple
import warnings

import numpy as np
from rep_coach.core.evaluation import (held_out_subjects, leave_one_subject_out, replay,
                                       window_truth)
from rep_coach.core.resample import StreamResampler
from rep_coach.core.types import ImuBlock, NearFailureState, RepEvent, SET_REST_S
from rep_coach.learned.events import EndPicker
from rep_coach.learned.onnx_model import OnnxModel, TensorSpec
from rep_coach.learned.preprocess import RATE_HZ, scale, sigmoid
from rep_coach.training.augment import AugmentConfig
from rep_coach.training.data import Session
from rep_coach.training.models import n_params, RefClassifier, RefResNet
from rep_coach.training.seg_train import _crop, SegTrainConfig
import torch
import torch.nn.functional as F
from tqdm import tqdm

LOG = logging.getLogger(__name__)
WINDOW = 256
HOP = 64
#: Window samples whose probabilities are used: the centre hop.
CENTRE = slice((WINDOW - HOP) // 2, (WINDOW + HOP) // 2)
#: Segmentation-derived inputs of the classifier per window.
SEG_FEATURES = 8
#: A window is flagged near failure at this probability.
THRESHOLD = 0.5
#: Reference classifier training passes over the training windows (CLI default).
CLF_EPOCHS = 60


def train_ref_segmenter(sessions: List[Session], steps: int, seed: int, batch: int = 16,
                        progress: bool = True) -> RefResNet:
    """Train the reference on random 256-sample windows (same augmentation as ours)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = SegTrainConfig(crop=WINDOW, steps=steps, batch=batch, start_prob=0.0,
                         augment=AugmentConfig())
    model = RefResNet()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    weights = np.array([s.x.shape[1] for s in sessions], dtype=float)
    weights /= weights.sum()
    model.train()
    for _ in tqdm(range(steps), desc='reference segmenter', disable=not progress, leave=False):
        idx = rng.choice(len(sessions), size=batch, p=weights)
        # The reference reads the six scaled raw axes, as published.
        xs, ys, _ = zip(*(_crop(sessions[i], cfg, 0, rng, True, raw_axes=True) for i in idx))
        x = torch.from_numpy(np.stack(xs).astype(np.float32))
        y = torch.from_numpy(np.stack(ys))[:, :1]
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model


def _export(model: torch.nn.Module, args: Tuple[torch.Tensor, ...], path: Path,
            inputs: List[str], outputs: List[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(model.eval(), args, str(path), dynamo=False, opset_version=17,
                          input_names=inputs, output_names=outputs)
    return path


def export_ref_segmenter(model: RefResNet, path: Path) -> Path:
    """ONNX of one window: (1, 6, 256) -> (1, 1, 256) logits."""
    return _export(model, (torch.zeros(1, 6, WINDOW),), path, ['window'], ['logits'])


def export_ref_classifier(model: RefClassifier, path: Path) -> Path:
    """ONNX of one window step: window (1, 1, 7, 256), seg (1, 1, 8), h, c -> logits, h, c."""
    h = torch.zeros(model.lstm.num_layers, 1, model.lstm.hidden_size)
    args = (torch.zeros(1, 1, 7, WINDOW), torch.zeros(1, 1, SEG_FEATURES), h, h)
    return _export(model, args, path, ['window', 'seg', 'h', 'c'], ['logits', 'h_out', 'c_out'])


@dataclass
class RefWindow:
    """The classifier's inputs for one window, and when it was decided."""

    stamp: float
    x: np.ndarray      # (7, WINDOW): six scaled axes and the segmenter's probability
    seg: np.ndarray    # (SEG_FEATURES,)


class RefPipeline:
    """
    Streaming driver of the reference: a 256-sample window every 64 samples (0.64 s).

    Stage 1 always runs; with a classifier session, every window also gets a
    near-failure verdict (``window_states``), and each rep the verdict of the
    window that emitted it (:class:`RefNearFailure` hands those out).
    ``keep_windows`` records every window's classifier inputs (training data).
    """

    def __init__(self, session, classifier=None, set_rest_s: float = SET_REST_S,
                 keep_windows: bool = False) -> None:
        """Wrap onnxruntime sessions of the exported reference models."""
        self.session = session
        self.classifier = classifier
        self.set_rest_s = set_rest_s
        self.keep_windows = keep_windows
        self.set_index = 0
        self.reset()

    def resume(self) -> None:
        """Go on after a hole in the stream: as :meth:`reset` (its windows hold no pose)."""
        self.reset()

    def reset(self) -> None:
        """Forget the stream; set numbers keep rising (as the segmenters')."""
        self.resampler = StreamResampler(RATE_HZ)
        self.picker = EndPicker()
        self.t = np.zeros(0)
        self.x = np.zeros((6, 0), dtype=np.float32)
        self.new = 0
        self.rep_index, self.last_end = 0, None
        self.intervals: List[float] = []   # end-to-end times of the current set's reps
        self.windows: List[RefWindow] = []
        self.window_states: List[NearFailureState] = []
        self.verdicts: Deque[NearFailureState] = deque()
        if self.classifier is not None:
            shape = next(i.shape for i in self.classifier.get_inputs() if i.name == 'h')
            self.h = np.zeros(shape, np.float32)
            self.c = np.zeros(shape, np.float32)

    def push(self, block: ImuBlock) -> List[RepEvent]:
        """Consume samples; decide once per 64 new samples."""
        grid = self.resampler.push(block)
        self.t = np.concatenate([self.t, grid.t])
        self.x = np.concatenate([self.x, scale(grid.accel, grid.gyro)], axis=1)
        self.new += len(grid)
        events: List[RepEvent] = []
        while self.new >= HOP:
            # Decisions happen at window boundaries only, like the published system.
            end_i = self.t.size - (self.new - HOP)
            self.new -= HOP
            if end_i < WINDOW:
                continue  # start of the stream: no full window yet
            events += self._window(self.t[end_i - WINDOW:end_i], self.x[:, end_i - WINDOW:end_i])
        # Trim only now: a big block may have completed several hops at once.
        keep = WINDOW + self.new
        self.t, self.x = self.t[-keep:], self.x[:, -keep:]
        return events

    def _window(self, t: np.ndarray, x: np.ndarray) -> List[RepEvent]:
        p = sigmoid(self.session.run(None, {'window': x[None]})[0][0, 0])
        stamp = float(t[-1])
        events = [self._event(end, stamp)
                  for end, _, _ in self.picker.update(t[CENTRE], p[CENTRE])]
        if not (self.keep_windows or self.classifier is not None):
            return events
        window = RefWindow(stamp, np.concatenate([x, p[None].astype(np.float32)]),
                           self._seg_features(stamp, p))
        if self.keep_windows:
            self.windows.append(window)
        if self.classifier is not None:
            logit, self.h, self.c = self.classifier.run(
                None, {'window': window.x[None, None], 'seg': window.seg[None, None],
                       'h': self.h, 'c': self.c})
            prob = float(sigmoid(logit[0, 0]))
            self.window_states.append(NearFailureState(
                self.set_index, self.rep_index, stamp, prob, prob >= THRESHOLD))
            self.verdicts.extend(NearFailureState(e.set_index, e.rep_index, stamp, prob,
                                                  prob >= THRESHOLD) for e in events)
        return events

    def _seg_features(self, stamp: float, p: np.ndarray) -> np.ndarray:
        """
        Describe the reference's segmentation at ``stamp`` (fatigue shows in rep times).

        Reps so far in the set / 10; time since the last rep end / 5 (capped at
        1, and 1 before any rep); the last and the first rep-to-rep times of the
        set / 5 (0 while unknown) and the last over the first minus 1; the mean
        probability over the window; the peak over its decided centre; and 1
        while a set is under way.
        """
        since = 1.0 if self.last_end is None else min((stamp - self.last_end) / 5.0, 1.0)
        in_set = self.last_end is not None and stamp - self.last_end <= self.set_rest_s
        last = self.intervals[-1] if self.intervals else 0.0
        first = self.intervals[0] if self.intervals else 0.0
        return np.array([self.rep_index / 10.0 if in_set else 0.0, since, last / 5.0,
                         first / 5.0, last / first - 1.0 if first else 0.0,
                         float(p.mean()), float(p[CENTRE].max()), float(in_set)], np.float32)

    def _event(self, end: float, stamp: float) -> RepEvent:
        if self.last_end is None or end - self.last_end > self.set_rest_s:
            self.set_index, self.rep_index = self.set_index + 1, 0
            self.intervals = []
            start = end - 2.5
        else:
            start = self.last_end
            self.intervals.append(end - self.last_end)
        self.rep_index += 1
        self.last_end = end
        return RepEvent(self.set_index, self.rep_index, start, end, stamp)


class RefNearFailure:
    """
    Stage 2 of the reference as the harness sees it: a view of one :class:`RefPipeline`.

    The reference decides per window inside the pipeline; a rep's verdict is the
    one of the window that emitted it, and ``window_states`` gives the harness
    every window's verdict (the published protocol).
    """

    reps_without_signal = 0   # it reads the stream, not the rep's signal

    def __init__(self, pipeline: RefPipeline) -> None:
        """View ``pipeline``, which must run a classifier."""
        if pipeline.classifier is None:
            raise ValueError('RefNearFailure needs a RefPipeline with a classifier session')
        self.pipeline = pipeline

    @property
    def window_states(self) -> List[NearFailureState]:
        """Every window's verdict so far."""
        return self.pipeline.window_states

    def on_rep(self, rep: RepEvent) -> NearFailureState:
        """Return the verdict of the window that emitted ``rep``."""
        return self.pipeline.verdicts.popleft()

    def reset(self) -> None:
        """Nothing of its own: the pipeline holds the state."""


@dataclass
class WindowSequence:
    """One training recording as the classifier sees it, window by window."""

    x: np.ndarray      # (W, 7, WINDOW)
    seg: np.ndarray    # (W, SEG_FEATURES)
    y: np.ndarray      # (W,) 1 = near failure
    mask: np.ndarray   # (W,) 1 where the window lies in a rep with an RPE


def window_sequence(session: Session, segmenter) -> WindowSequence:
    """Replay ``session`` through the reference segmenter and label every window."""
    pipe = RefPipeline(segmenter, keep_windows=True)
    replay(session.recording, pipe, None)
    # Labelled at the newest hop's centre, by the harness's own window truth.
    centre = np.array([w.stamp for w in pipe.windows]) - HOP / 2 / RATE_HZ
    y, mask = window_truth(centre, [r for s in session.sets for r in s])
    return WindowSequence(np.stack([w.x for w in pipe.windows]),
                          np.stack([w.seg for w in pipe.windows]),
                          y.astype(np.float32), mask.astype(np.float32))


def train_ref_classifier(sequences: List[WindowSequence], epochs: int, seed: int,
                         batch: int = 4, lr: float = 3e-4,
                         progress: bool = True) -> RefClassifier:
    """
    Train the reference classifier on whole recordings (masked BCE, fixed schedule).

    The progress bar shows the mean training loss of the latest epoch.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = RefClassifier(SEG_FEATURES)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    layers, hidden = model.lstm.num_layers, model.lstm.hidden_size
    model.train()
    bar = tqdm(range(epochs), desc='reference classifier', disable=not progress, leave=False)
    for _ in bar:
        order = rng.permutation(len(sequences))
        losses = []
        for k in range(0, len(order), batch):
            chunk = [sequences[i] for i in order[k:k + batch]]
            x, seg, y, mask = (torch.from_numpy(a) for a in _pad(chunk))
            h = torch.zeros(layers, len(chunk), hidden)
            logits, _, _ = model(x, seg, h, h)
            loss = F.binary_cross_entropy_with_logits(logits, y, weight=mask, reduction='sum')
            loss = loss / mask.sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        bar.set_postfix(loss=f'{np.mean(losses):.3f}')
    model.eval()
    return model


def _pad(chunk: List[WindowSequence]) -> Tuple[np.ndarray, ...]:
    """Stack sequences, zero-padded (mask 0) to the longest."""
    n = max(len(s.y) for s in chunk)
    x = np.zeros((len(chunk), n) + chunk[0].x.shape[1:], np.float32)
    seg = np.zeros((len(chunk), n, SEG_FEATURES), np.float32)
    y, mask = np.zeros((len(chunk), n), np.float32), np.zeros((len(chunk), n), np.float32)
    for i, s in enumerate(chunk):
        w = len(s.y)
        x[i, :w], seg[i, :w], y[i, :w], mask[i, :w] = s.x, s.seg, s.y, s.mask
    return x, seg, y, mask


def load_ref_segmenter(path: Path):
    """Onnxruntime session (one thread) of :func:`export_ref_segmenter`'s file, checked."""
    return OnnxModel(path, [TensorSpec('window', (1, 6, WINDOW))],
                     [TensorSpec('logits', (1, 1, WINDOW))]).session


def load_ref_classifier(path: Path):
    """Onnxruntime session (one thread) of :func:`export_ref_classifier`'s file, checked."""
    state = (None, 1, None)
    return OnnxModel(path, [TensorSpec('window', (1, 1, 7, WINDOW)),
                            TensorSpec('seg', (1, 1, SEG_FEATURES)),
                            TensorSpec('h', state), TensorSpec('c', state)],
                     [TensorSpec('logits', (1, 1)), TensorSpec('h_out', state),
                      TensorSpec('c_out', state)]).session


def _fold_segmenter(train: List[Session], steps: int, seed: int, fold_dir: Path,
                    reuse: bool, progress: bool) -> Path:
    """Train the fold's reference segmenter, or reuse one ``reuse`` finds made alike."""
    path, stamp = fold_dir / 'ref.onnx', fold_dir / 'ref.json'
    made = {'steps': steps, 'seed': seed, 'train': sorted(s.name for s in train)}
    if reuse and path.is_file() and stamp.is_file():
        try:
            found = json.loads(stamp.read_text())
        except ValueError:
            found = None
            LOG.warning('%s is not JSON; training the segmenter again', stamp)
        if found == made:
            LOG.info('%s: segmenter reused (%d steps, seed %d)', fold_dir.name, steps, seed)
            return path
        LOG.info('%s: the segmenter there was made otherwise; training it', fold_dir.name)
    export_ref_segmenter(train_ref_segmenter(train, steps, seed, progress=progress), path)
    stamp.write_text(json.dumps(made))
    LOG.info('%s: segmenter trained (%d steps, seed %d) -> %s', fold_dir.name, steps, seed,
             path)
    return path


def run_reference_loso(sessions: List[Session], steps: int, seed: int, work_dir: Path,
                       progress: bool = True, epochs: int = CLF_EPOCHS,
                       reuse_segmenters: bool = False) -> Dict[str, Any]:
    """
    LOSO of the reference (segmenter, then classifier) through the streaming harness.

    ``epochs`` 0 trains no classifier (segmentation only).  ``reuse_segmenters``
    takes a fold's segmenter from ``work_dir`` when one was trained there with
    the same steps, seed and training sets (training the classifier again then
    costs minutes, not the segmenter's hour).
    """
    by_name = {s.name: s for s in sessions}
    recordings = [s.recording for s in sessions]

    def fit(train_recs) -> Tuple[Callable[[], RefPipeline], Optional[Callable]]:
        train = [by_name[r.name] for r in train_recs]
        fold_dir = work_dir / f'fold_{"_".join(held_out_subjects(recordings, train_recs))}'
        seg = load_ref_segmenter(_fold_segmenter(train, steps, seed, fold_dir,
                                                 reuse_segmenters, progress))
        if epochs <= 0:
            return (lambda: RefPipeline(seg)), None
        sequences = [window_sequence(s, seg) for s in train]
        LOG.info('%s: classifier, %d epochs over %d windows (%d labelled) of %d recordings',
                 fold_dir.name, epochs, sum(len(q.y) for q in sequences),
                 int(sum(q.mask.sum() for q in sequences)), len(sequences))
        model = train_ref_classifier(sequences, epochs, seed, progress=progress)
        clf = load_ref_classifier(export_ref_classifier(model, fold_dir / 'ref_clf.onnx'))
        made: List[RefPipeline] = []

        def segmenter() -> RefPipeline:
            made.append(RefPipeline(seg, clf))
            return made[-1]

        # The harness builds a recording's segmenter before its classifier: the
        # classifier is the view of the pipeline just built.
        return segmenter, (lambda: RefNearFailure(made[-1]))

    torch.set_num_threads(1)
    result = leave_one_subject_out(recordings, fit)
    keep = {'segmentation': result['segmentation'],
            'per_subject': {k: {'segmentation': v['segmentation'],
                                **({'near_failure': v['near_failure']} if epochs > 0 else {})}
                            for k, v in result['per_subject'].items()},
            'params': n_params(RefResNet()), 'train_steps_per_fold': steps,
            'train_windows_per_fold': steps * 16}
    if epochs > 0:
        keep.update(near_failure=result['near_failure'],
                    classifier_params=n_params(RefClassifier(SEG_FEATURES)),
                    classifier_epochs=epochs)
    else:
        keep['note'] = 'near-failure classifier not trained (epochs 0)'
    return keep
