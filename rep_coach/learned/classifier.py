"""Stage 2, learned: near-failure and reps-in-reserve per rep, with onnxruntime.

Per rep the ONNX model gets the rep's set-relative features
(:data:`~rep_coach.core.rep_features.RELATIVE_FEATURES`, as computed by stage
1), the rep's raw signal resampled to a fixed length, and the GRU state carried
from the previous rep of the same set (reset when ``set_index`` changes, and
for every rep when the model's metadata says ``recurrent: false``).  It returns the
near-failure probability, the probabilities of 0/1/2/3+ reps in reserve, and
the new state.
"""

from __future__ import annotations

import math
from typing import Dict, Optional

import numpy as np

from rep_coach.core.rep_features import RELATIVE_FEATURES
from rep_coach.core.resample import StreamResampler
from rep_coach.core.types import ImuBlock, NearFailureState, RepEvent
from rep_coach.learned.onnx_model import OnnxModel, TensorSpec
from rep_coach.learned.preprocess import RATE_HZ, resample_fixed, scale

#: ONNX interface of ``near_failure.onnx`` (feature count and lengths checked at load).
CLASSIFIER_INPUTS = (TensorSpec('features', (1, len(RELATIVE_FEATURES))),
                     TensorSpec('signal', (1, 6, None)), TensorSpec('h', (1, 1, None)))
CLASSIFIER_OUTPUTS = (TensorSpec('probability', (1, 1)), TensorSpec('rir_probs', (1, 4)),
                      TensorSpec('h_out', (1, 1, None)))


def feature_vector(features: Dict[str, float]) -> np.ndarray:
    """(1, F) float32 in RELATIVE_FEATURES order; missing values stay NaN (filled later)."""
    return np.array([[float(features.get(name, math.nan)) for name in RELATIVE_FEATURES]],
                    dtype=np.float32)


class LearnedNearFailure:
    """:class:`~rep_coach.core.stages.NearFailureClassifier` backed by ``near_failure.onnx``."""

    def __init__(self, model: OnnxModel, threshold: Optional[float] = None,
                 imu_buffer_s: float = 20.0) -> None:
        """Wrap a loaded model; ``threshold`` None = the one stored with the model."""
        self.model = model
        meta = model.meta_json('rep_coach')
        self.sig_len = int(meta['sig_len'])
        self.hidden = int(meta['hidden'])
        self.feat_fill = np.asarray(meta['feat_mean'], dtype=np.float32)[None, :]
        self.threshold = float(meta.get('threshold', 0.5) if threshold is None else threshold)
        # A model trained without memory across reps starts every rep from zero.
        self.recurrent = bool(meta.get('recurrent', True))
        self.capacity = int(imu_buffer_s * RATE_HZ)
        self.reset()

    def reset(self) -> None:
        """Forget all state (a new session)."""
        self.resampler = StreamResampler(RATE_HZ)
        self.t = np.zeros(0)
        self.x = np.zeros((6, 0), dtype=np.float32)
        self.h = np.zeros((1, 1, self.hidden), dtype=np.float32)
        self._set_index: Optional[int] = None

    def push(self, block: ImuBlock) -> None:
        """Keep the last ``imu_buffer_s`` of scaled samples for the rep signal."""
        grid = self.resampler.push(block)
        if len(grid) == 0:
            return
        self.t = np.concatenate([self.t, grid.t])
        self.x = np.concatenate([self.x, scale(grid.accel, grid.gyro)], axis=1)
        # Trim in chunks: amortised copying for small blocks.
        if self.t.size > self.capacity + self.capacity // 4:
            self.t, self.x = self.t[-self.capacity:], self.x[:, -self.capacity:]

    def rep_signal(self, start: float, end: float) -> np.ndarray:
        """(1, 6, sig_len) signal of ``[start, end]`` from the buffer (zeros if absent)."""
        i0, i1 = np.searchsorted(self.t, [start, end])
        return resample_fixed(self.x[:, i0:i1], self.sig_len)[None]

    def on_rep(self, rep: RepEvent) -> NearFailureState:
        """Verdict for the rep just emitted by stage 1."""
        if rep.set_index != self._set_index or not self.recurrent:
            self._set_index = rep.set_index
            self.h = np.zeros_like(self.h)
        feats = feature_vector(rep.features)
        bad = ~np.isfinite(feats)
        feats[bad] = self.feat_fill[bad]
        prob, rir_probs, self.h = self.model.run(features=feats,
                                                 signal=self.rep_signal(rep.start, rep.end),
                                                 h=self.h)
        p = float(prob[0, 0])
        return NearFailureState(set_index=rep.set_index, rep_index=rep.rep_index,
                                stamp=rep.stamp, probability=p,
                                near_failure=p >= self.threshold,
                                rir=int(np.argmax(rir_probs[0])))
