"""Training of the stage-1 segmenter (:class:`CausalTCN`) on random warped crops."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
from rep_coach.learned.preprocess import RATE_HZ, scale
from rep_coach.training.augment import (augment, augment_kinematic, AugmentConfig,
                                        interp_channels)
from rep_coach.training.data import END_AFTER_S, end_region, Session
from rep_coach.training.models import CausalTCN
from rep_coach.training.steps import apply_step
import torch
import torch.nn.functional as F
from tqdm import tqdm


@dataclass
class SegTrainConfig:
    """Hyper-parameters, fixed a priori (never tuned on a held-out subject)."""

    channels: int = 32
    dilations: Sequence[int] = (1, 2, 4, 8, 16, 32, 64)
    steps: int = 600
    batch: int = 16
    crop: int = 896
    lr: float = 3e-3
    start_prob: float = 0.15     # share of crops at the stream start (exact zero state)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


def _crop(sess: Session, cfg: SegTrainConfig, warm: int, rng: np.random.Generator,
          aug: bool, raw_axes: bool = False):
    """
    One training crop ``(x, y, mask)``: our invariant channels, or ``raw_axes``.

    ``mask`` (2, crop) weighs each output's loss per sample.

    ``raw_axes`` gives the six scaled axes the published design reads (the
    reference), augmented as a sensor would differ (rotation, gain, noise).
    """
    n = sess.x.shape[1]
    factor = rng.uniform(1 - cfg.augment.warp, 1 + cfg.augment.warp) if aug else 1.0
    span = (cfg.crop - 1) * factor
    hi = max(n - 1 - span, 0.0)
    start = 0.0 if rng.random() < cfg.start_prob else rng.uniform(0.0, hi)
    pos = start + np.arange(cfg.crop) * factor
    pos = np.minimum(pos, n - 1)
    if raw_axes:
        raw = interp_channels(sess.x, pos)
        x = scale(raw[:3].T, raw[3:].T, clip=False)
        x = augment(x, rng, cfg.augment) if aug else np.clip(x, -1.0, 1.0)
    else:
        x = interp_channels(sess.kin, pos)
        x = augment_kinematic(x, rng, cfg.augment) if aug else x.astype(np.float32)
    # Labels follow the warp: a region of 0.4 s in played time is 0.4 s * factor in
    # source time.
    tau = sess.t0 + pos / RATE_HZ
    y = np.zeros((2, cfg.crop), dtype=np.float32)
    mask = np.ones((2, cfg.crop), dtype=np.float32)
    for reps, edges in zip(sess.sets, sess.edges_from_recording or [False] * len(sess.sets)):
        for r in reps:
            y[0, end_region(tau, r.end, factor)] = 1.0
            y[1, (tau >= r.start) & (tau < r.end)] = 1.0
        if edges and reps:
            _unteach_recording_edges(mask, tau, reps, factor)
    if start > 0:
        mask[:, :warm] = 0.0  # the net has not seen its receptive field yet
    return x, y, mask


def _unteach_recording_edges(mask: np.ndarray, tau: np.ndarray, reps: list,
                             factor: float) -> None:
    """
    Take a set's recording-placed outer boundaries out of the loss (in place).

    Where the recording, not the lift, placed a set's first start and last end (see
    :class:`~rep_coach.core.types.SetLabels`), the targets around them would teach
    the network that the last lowering ends nowhere and that a rep ends in the
    middle of a rest (9 % of the rep ends), and that a rep is under way during the
    rest before the first lift.  So from the last rep's top to its labelled end
    region neither output is scored, and from the first rep's start to its top the
    "inside a rep" output is not.  The lowering and the rests are still learned from
    every other rep and from the rest of each recording.
    """
    first, last = reps[0], reps[-1]
    top = first.peak if first.peak is not None else first.end
    mask[1, (tau >= first.start) & (tau < top)] = 0.0
    top = last.peak if last.peak is not None else last.start
    mask[:, (tau >= top) & (tau <= last.end + END_AFTER_S * factor)] = 0.0


def train_segmenter(sessions: List[Session], cfg: SegTrainConfig, seed: int,
                    init: Optional[CausalTCN] = None, desc: str = 'segmenter',
                    progress: bool = True) -> CausalTCN:
    """Train a segmenter on ``sessions`` (deterministic for ``seed``)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = init if init is not None else CausalTCN(cfg.channels, cfg.dilations)
    warm = min(model.receptive_field, cfg.crop // 2)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps,
                                                pct_start=0.15)
    weights = np.array([s.x.shape[1] for s in sessions], dtype=float)
    weights /= weights.sum()
    model.train()
    bar = tqdm(range(cfg.steps), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        idx = rng.choice(len(sessions), size=cfg.batch, p=weights)
        xs, ys, ms = zip(*(_crop(sessions[i], cfg, warm, rng, True) for i in idx))
        x, y, m = (torch.from_numpy(np.stack(a)) for a in (xs, ys, ms))
        logits = model(x)
        loss = F.binary_cross_entropy_with_logits(logits, y, reduction='none')
        loss = (loss * m).sum() / m.sum()
        apply_step(model, opt, sched, loss, bar)
    model.eval()
    return model


@torch.no_grad()
def predict_session(model: CausalTCN, sess: Session) -> np.ndarray:
    """(2, N) probabilities over a whole session (stream from its first sample)."""
    x = torch.from_numpy(sess.kin.astype(np.float32))[None]
    return torch.sigmoid(model(x))[0].numpy()
