"""
Stage 2, learned: near-failure and reps-in-reserve per rep, with onnxruntime.

Per rep the ONNX model gets the rep's set-relative features
(:data:`~rep_coach.core.rep_features.RELATIVE_FEATURES`, as computed by stage
1), the rep's raw signal (``RepEvent.signal``, cut by stage 1, scaled and turned
into mounting-invariant channels by
:func:`~rep_coach.learned.preprocess.classifier_input`, as in training), and the GRU
state carried from the previous rep of the same set (reset when ``set_index``
changes, and for every rep when the model's metadata says ``recurrent: false``).
It returns the near-failure probability, the probabilities of 0/1/2/3+ reps in
reserve, and the new state.  It reads no IMU stream.

A rep without a signal (a bag recorded before events carried one) is still
classified, on a zero signal, and counted in ``reps_without_signal``; the node
reports the count.
"""

from __future__ import annotations

import math
from typing import Dict, Optional

import numpy as np

from rep_coach.core.rep_features import RELATIVE_FEATURES
from rep_coach.core.types import NearFailureState, RepEvent
from rep_coach.learned.onnx_model import OnnxModel, TensorSpec
from rep_coach.learned.preprocess import classifier_input, N_REP_CHANNELS

#: ONNX interface of ``near_failure.onnx`` (feature count and lengths checked at load).
CLASSIFIER_INPUTS = (TensorSpec('features', (1, len(RELATIVE_FEATURES))),
                     TensorSpec('signal', (1, N_REP_CHANNELS, None)),
                     TensorSpec('h', (1, 1, None)))
CLASSIFIER_OUTPUTS = (TensorSpec('probability', (1, 1)), TensorSpec('rir_probs', (1, 4)),
                      TensorSpec('h_out', (1, 1, None)))


def feature_vector(features: Dict[str, float]) -> np.ndarray:
    """(1, F) float32 in RELATIVE_FEATURES order; missing values stay NaN (filled later)."""
    return np.array([[float(features.get(name, math.nan)) for name in RELATIVE_FEATURES]],
                    dtype=np.float32)


class LearnedNearFailure:
    """:class:`~rep_coach.core.stages.NearFailureClassifier` backed by ``near_failure.onnx``."""

    def __init__(self, model: OnnxModel, threshold: Optional[float] = None) -> None:
        """Wrap a loaded model; ``threshold`` None = the one stored with the model."""
        self.model = model
        meta = model.meta_json('rep_coach')
        self.hidden = int(meta['hidden'])
        self.feat_fill = np.asarray(meta['feat_mean'], dtype=np.float32)[None, :]
        self.threshold = float(meta.get('threshold', 0.5) if threshold is None else threshold)
        # A model trained without memory across reps starts every rep from zero.
        self.recurrent = bool(meta.get('recurrent', True))
        #: Reps classified on a zero signal because they came without one (see module doc).
        self.reps_without_signal = 0
        self.reset()

    def reset(self) -> None:
        """Forget all state (a new session)."""
        self.h = np.zeros((1, 1, self.hidden), dtype=np.float32)
        self._set_index: Optional[int] = None

    def on_rep(self, rep: RepEvent) -> NearFailureState:
        """Verdict for the rep just emitted by stage 1."""
        if rep.set_index != self._set_index or not self.recurrent:
            self._set_index = rep.set_index
            self.h = np.zeros_like(self.h)
        feats = feature_vector(rep.features)
        bad = ~np.isfinite(feats)
        feats[bad] = self.feat_fill[bad]
        if rep.signal is None:
            self.reps_without_signal += 1
        prob, rir_probs, self.h = self.model.run(features=feats,
                                                 signal=classifier_input(rep.signal)[None],
                                                 h=self.h)
        p = float(prob[0, 0])
        return NearFailureState(set_index=rep.set_index, rep_index=rep.rep_index,
                                stamp=rep.stamp, probability=p,
                                near_failure=p >= self.threshold,
                                rir=int(np.argmax(rir_probs[0])))
