#!/usr/bin/env python3
"""
Experiment (session 10, not adopted): test whether the absolute lifting velocity helps stage 2.

Velocity-based training predicts reps in reserve from two numbers: the velocity loss
within the set (what the shipped classifier reads) and the absolute velocity (failure
comes near a lifter's minimum velocity).  This script scores, leave-one-subject-out on
the fold segmenters of a ``rep-coach train`` run, an ordinal logistic model
P(RIR <= k) = sigmoid(b_k - w.x) on feature sets with and without ``mean_conc_vel``,
then picks the feature set per fold by an inner LOSO on the training lifters only
(the honest number).  ``--nn`` also retrains the shipped network with extra features
(slow: minutes per fold).  Results and their reading: docs/models.md, stage 2.

Run (the fold models come from ``rep-coach train --work-dir DIR``)::

    .venv/bin/python scripts/nf_absolute_velocity.py --folds DIR [--nn]
"""

from __future__ import annotations

import math
from pathlib import Path
import sys
from typing import Callable, Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fold_experiments import fold_parser  # noqa: E402 (this script's directory)
import numpy as np  # noqa: E402
from rep_coach.core.evaluation import aggregate, replay, score_recording  # noqa: E402
from rep_coach.core.rep_features import RELATIVE_FEATURES, set_features  # noqa: E402
from rep_coach.core.types import NearFailureState, RepEvent  # noqa: E402
import rep_coach.learned as learned  # noqa: E402
from rep_coach.training.data import load_thomas2025, Session  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

#: Candidate feature sets, fixed before any inner selection.
CANDIDATES: Tuple[Tuple[str, ...], ...] = (
    ('recent_velocity_loss',),
    ('velocity_loss',),
    ('recent_velocity_loss', 'mean_conc_vel'),
    ('recent_velocity_loss', 'mean_conc_vel', 'rep_in_set'),
)
L2 = 1e-2
REPORTED = ('rep_f1', 'rep_precision', 'rep_recall', 'window_f1', 'rir_mae')


def labelled_rows(sessions: Sequence[Session], names: Sequence[str]):
    """Features at the labelled reps (as the classifier trains), near failure and RIR."""
    x, nf, rir = [], [], []
    for sess in sessions:
        for reps in sess.sets:
            feats = set_features(sess.t, None, sess.rate, [(r.start, r.end, None) for r in reps])
            for d, r in zip(feats, reps):
                if r.rpe is not None:
                    x.append([d[n] for n in names])
                    nf.append(r.rpe >= 8)
                    rir.append(min(3, int(r.rir)))
    return np.array(x, float), np.array(nf), np.array(rir)


class OrdinalLogistic:
    """P(RIR <= k) = sigmoid(b_k - w.x) on standardised features; near failure = k 2."""

    def __init__(self, names: Sequence[str], x: np.ndarray, rir: np.ndarray) -> None:
        self.names = tuple(names)
        self.mu = np.nanmean(x, 0)
        self.sd = np.nanstd(x, 0) + 1e-9
        z = self._standardise(x)
        d = z.shape[1]
        rows = np.arange(len(z))

        def unpack(p: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
            # Increasing thresholds b_0 < b_1 < b_2 through positive increments.
            return p[:d], np.cumsum(np.r_[p[d], np.exp(p[d + 1:])])

        def loss(p: np.ndarray) -> float:
            w, b = unpack(p)
            cdf = 1 / (1 + np.exp(-(b[None, :] - (z @ w)[:, None])))
            cdf = np.c_[np.zeros(len(z)), cdf, np.ones(len(z))]
            pr = cdf[rows, rir + 1] - cdf[rows, rir]
            return -np.mean(np.log(np.clip(pr, 1e-9, None))) + L2 * np.sum(w ** 2)

        self.w, self.b = unpack(minimize(loss, np.r_[np.zeros(d), -1.0, 0.0, 0.0],
                                         method='L-BFGS-B').x)

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(x), (x - self.mu) / self.sd, 0.0)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """P(RIR <= 0, 1, 2) per row of ``x``."""
        return 1 / (1 + np.exp(-(self.b[None, :] - (self._standardise(x) @ self.w)[:, None])))

    # The stage-2 interface the evaluation harness replays.
    def reset(self) -> None:
        """Keep no state across reps."""

    def on_rep(self, ev: RepEvent) -> NearFailureState:
        """Verdict for one detected rep."""
        cdf = self.cdf(np.array([[ev.features.get(n, math.nan) for n in self.names]]))[0]
        p = float(cdf[2])
        return NearFailureState(stamp=ev.stamp, set_index=ev.set_index,
                                rep_index=ev.rep_index, probability=p, near_failure=p >= 0.5,
                                rir=int(np.argmax(np.diff(np.r_[0.0, cdf, 1.0]))))


def torch_classifier(sessions: Sequence[Session], names: Sequence[str], seed: int):
    """Retrain the shipped network with features ``names``; return it as a stage-2 object."""
    import torch
    import rep_coach.training.clf_train as clf_train
    from rep_coach.learned.preprocess import classifier_input
    clf_train.RELATIVE_FEATURES = tuple(names)   # what set_samples and _batch read
    cfg = clf_train.ClfTrainConfig()
    model = clf_train.train_classifier(clf_train.set_samples(sessions), cfg, seed,
                                       progress=False)
    fill = model.feat_mean.numpy()

    class Net:

        def reset(self) -> None:
            pass

        def on_rep(self, ev: RepEvent) -> NearFailureState:
            f = np.array([ev.features.get(n, math.nan) for n in names], np.float32)
            f = np.where(np.isfinite(f), f, fill)[None, None]
            sig = classifier_input(ev.signal)[None, None].astype(np.float32)
            with torch.no_grad():
                nf, rir, _ = model(torch.from_numpy(f), torch.from_numpy(sig),
                                   torch.zeros(1, 1, cfg.hidden))
            p = float(torch.sigmoid(nf).reshape(-1)[0])
            return NearFailureState(stamp=ev.stamp, set_index=ev.set_index,
                                    rep_index=ev.rep_index, probability=p,
                                    near_failure=p >= 0.5,
                                    rir=int(rir.reshape(-1, 4)[0].argmax()))
    return Net()


def held_out(sessions: List[Session], folds: Path,
             make: Callable[[str, List[Session]], object]) -> Dict[str, float]:
    """Pooled near-failure scores on each fold's held-out lifter, with its fold segmenter."""
    scores = []
    for subject in sorted({s.subject for s in sessions}):
        seg_f, _ = learned.load_stages(folds / f'fold_{subject}')
        clf = make(subject, [s for s in sessions if s.subject != subject])
        for sess in (s for s in sessions if s.subject == subject):
            scores += score_recording(sess.recording, replay(sess.recording, seg_f(), clf))
    nf = aggregate(scores)['near_failure']
    return {k: nf[k] for k in REPORTED}


def inner_choice(train: List[Session]) -> Tuple[str, ...]:
    """Return the candidate with the best inner-LOSO rep F1 on ``train``'s lifters."""
    subjects = sorted({s.subject for s in train})

    def f1(names: Sequence[str]) -> float:
        tp = fp = fn = 0
        for sub in subjects:
            x, _, rir = labelled_rows([s for s in train if s.subject != sub], names)
            xt, yt, _ = labelled_rows([s for s in train if s.subject == sub], names)
            pred = OrdinalLogistic(names, x, rir).cdf(xt)[:, 2] >= 0.5
            tp += int(np.sum(pred & yt))
            fp += int(np.sum(pred & ~yt))
            fn += int(np.sum(~pred & yt))
        return 2 * tp / max(1, 2 * tp + fp + fn)
    return max(CANDIDATES, key=f1)


def main() -> int:
    """Print one line per stage-2 variant."""
    parser = fold_parser(__doc__)
    parser.add_argument('--nn', action='store_true',
                        help='also retrain the network with extra features (slow)')
    parser.add_argument('--seed', type=int, default=2,
                        help='classifier seed (rep-coach train --seed 0 trains it with 2)')
    args = parser.parse_args()
    sessions = load_thomas2025(args.data)

    def show(what: str, scores: Dict[str, float]) -> None:
        print(f'{what:60s} ' + ' '.join(f'{k} {v:.4f}' for k, v in scores.items()), flush=True)

    show('fold models as trained', held_out(
        sessions, args.folds, lambda sub, _: learned.load_stages(args.folds / f'fold_{sub}')[1]()))
    if args.nn:
        for extra in ((), ('mean_conc_vel',), ('mean_conc_vel', 'rep_in_set')):
            names = RELATIVE_FEATURES + extra
            show(f'network + {extra}', held_out(
                sessions, args.folds,
                lambda _, train, names=names: torch_classifier(train, names, args.seed)))
    for names in CANDIDATES:
        show(f'ordinal logistic {names}', held_out(
            sessions, args.folds,
            lambda _, train, names=names: OrdinalLogistic(
                names, *labelled_rows(train, names)[::2])))
    chosen: Dict[str, Tuple[str, ...]] = {}

    def nested(subject: str, train: List[Session]) -> OrdinalLogistic:
        names = chosen[subject] = inner_choice(train)
        return OrdinalLogistic(names, *labelled_rows(train, names)[::2])
    show('ordinal logistic, features chosen by inner LOSO', held_out(sessions, args.folds, nested))
    print('inner choices:', chosen)
    return 0


if __name__ == '__main__':
    sys.exit(main())
