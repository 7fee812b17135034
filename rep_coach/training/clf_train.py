"""Training of the stage-2 classifier (:class:`RepClassifier`) on the reps of whole sets."""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import List, Optional, Sequence

import numpy as np
from rep_coach.core.evaluation import NEAR_FAILURE_RPE
from rep_coach.core.rep_features import RELATIVE_FEATURES, set_features
from rep_coach.core.rep_signal import rep_signal
from rep_coach.core.types import REP_SIGNAL_POINTS, rir_class
from rep_coach.learned.preprocess import N_REP_CHANNELS, RATE_HZ, rep_channels, scale_signal
from rep_coach.training.augment import augment, AugmentConfig
from rep_coach.training.data import Session
from rep_coach.training.models import RepClassifier
from rep_coach.training.steps import apply_step
import torch
import torch.nn.functional as F
from tqdm import tqdm


@dataclass
class ClfTrainConfig:
    """
    Hyper-parameters, fixed a priori (never tuned on a held-out subject).

    The signal length is not one: rep events carry REP_SIGNAL_POINTS points.
    """

    hidden: int = 32
    steps: int = 300
    batch: int = 16
    lr: float = 3e-3
    rir_weight: float = 0.5
    pos_weight: float = 2.0      # ~ negatives / positives of the training data
    jitter_s: float = 0.12       # rep boundary noise: stage 1 is never exact
    threshold: float = 0.5
    # The GRU's state carried across the reps of a set learned each training lifter's
    # rep counts, not fatigue (LOSO near-failure rep F1 0.44 with it, 0.72 without);
    # the set context then comes from the set-relative features alone (their tracker
    # holds the set's best and first reps).  See docs/models.md.
    recurrent: bool = False
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(warp=0.0))


@dataclass
class SetSample:
    """One labelled set for the classifier."""

    session: Session
    reps: list
    feats: np.ndarray       # (R, F), NaN where undefined
    nf: np.ndarray          # (R,) 1/0, NaN = unknown
    rir: np.ndarray         # (R,) 0..3, -1 = unknown


def set_samples(sessions: Sequence[Session]) -> List[SetSample]:
    """Per-set features at the true boundaries, from the segmenter's rate as it computes them."""
    out = []
    for sess in sessions:
        for reps in sess.sets:
            if not reps:
                continue
            feats = set_features(sess.t, None, sess.rate,
                                 [(r.start, r.end, None) for r in reps])
            f = np.array([[d[n] for n in RELATIVE_FEATURES] for d in feats], dtype=np.float32)
            nf = np.array([math.nan if r.rpe is None else float(r.rpe >= NEAR_FAILURE_RPE)
                           for r in reps], dtype=np.float32)
            rir = np.array([-1 if r.rir is None else rir_class(r.rir) for r in reps])
            out.append(SetSample(sess, reps, f, nf, rir))
    return out


def training_signal(sample: SetSample, i: int, cfg: ClfTrainConfig,
                    rng: Optional[np.random.Generator]) -> np.ndarray:
    """
    Return the (N_REP_CHANNELS, REP_SIGNAL_POINTS) model input of rep ``i``, as at runtime.

    Stage 1's cut (:func:`~rep_coach.core.rep_signal.rep_signal`) on the session's
    SI grid, then stage 2's :func:`~rep_coach.learned.preprocess.scale_signal` and
    :func:`~rep_coach.learned.preprocess.rep_channels`: with ``rng`` None this is
    exactly what ``LearnedNearFailure`` feeds the model for a rep with these
    boundaries.  With ``rng`` the boundaries are jittered and the unclipped axes
    augmented (``augment`` clips) before the channels are taken.
    """
    sess, r = sample.session, sample.reps[i]
    s, e = r.start, r.end
    if rng is not None:
        s += rng.normal(scale=cfg.jitter_s)
        e += rng.normal(scale=cfg.jitter_s)
        e = max(e, s + 2.0 / RATE_HZ)   # jitter must not turn a rep inside out
    x = scale_signal(rep_signal(sess.t, sess.x.T, s, e), clip=rng is None)
    return rep_channels(augment(x, rng, cfg.augment) if rng is not None else x)


def _batch(samples: Sequence[SetSample], cfg: ClfTrainConfig, mean: np.ndarray,
           rng: Optional[np.random.Generator]):
    r_max = max(len(s.reps) for s in samples)
    b, nf_dim = len(samples), len(RELATIVE_FEATURES)
    feats = np.zeros((b, r_max, nf_dim), dtype=np.float32)
    sig = np.zeros((b, r_max, N_REP_CHANNELS, REP_SIGNAL_POINTS), dtype=np.float32)
    nf = np.full((b, r_max), np.nan, dtype=np.float32)
    rir = np.full((b, r_max), -1, dtype=np.int64)
    for k, s in enumerate(samples):
        n = len(s.reps)
        f = s.feats.copy()
        if rng is not None:
            # Features computed from detected (not true) boundaries are noisier.
            f = f * rng.normal(1.0, 0.05, size=f.shape).astype(np.float32)
        bad = ~np.isfinite(f)
        f[bad] = np.broadcast_to(mean, f.shape)[bad]
        feats[k, :n] = f
        nf[k, :n] = s.nf
        rir[k, :n] = s.rir
        for i in range(n):
            sig[k, i] = training_signal(s, i, cfg, rng)
    return (torch.from_numpy(feats), torch.from_numpy(sig), torch.from_numpy(nf),
            torch.from_numpy(rir))


def train_classifier(samples: List[SetSample], cfg: ClfTrainConfig, seed: int,
                     desc: str = 'classifier', progress: bool = True) -> RepClassifier:
    """Train on labelled sets (deterministic for ``seed``)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    all_f = np.concatenate([s.feats for s in samples])
    mean = np.nanmean(all_f, axis=0)
    std = np.nanstd(all_f, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0).astype(np.float32)
    std = np.where(np.isfinite(std) & (std > 1e-6), std, 1.0).astype(np.float32)
    model = RepClassifier(len(RELATIVE_FEATURES), REP_SIGNAL_POINTS, hidden=cfg.hidden,
                          recurrent=cfg.recurrent)
    model.feat_mean.copy_(torch.from_numpy(mean))
    model.feat_std.copy_(torch.from_numpy(std))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps,
                                                pct_start=0.15)
    model.train()
    bar = tqdm(range(cfg.steps), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        idx = rng.choice(len(samples), size=min(cfg.batch, len(samples)), replace=False)
        feats, sig, nf, rir = _batch([samples[i] for i in idx], cfg, mean, rng)
        h0 = torch.zeros(1, feats.shape[0], cfg.hidden)
        nf_logit, rir_logit, _ = model(feats, sig, h0)
        known = torch.isfinite(nf)
        loss = F.binary_cross_entropy_with_logits(
            nf_logit[known], nf[known], pos_weight=torch.tensor(cfg.pos_weight))
        has_rir = rir >= 0
        if has_rir.any():
            loss = loss + cfg.rir_weight * F.cross_entropy(rir_logit[has_rir], rir[has_rir])
        apply_step(model, opt, sched, loss, bar)
    model.eval()
    return model
