"""
Learned stages (ONNX, run with onnxruntime + numpy; no PyTorch at runtime).

``load_stages(models_dir)`` loads ``segmenter.onnx`` and ``near_failure.onnx`` (or one of
them: ``segmenter_factory``, ``classifier_factory``),
checks their interfaces, and returns factories of fresh stage instances that
share the loaded sessions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Tuple, Union

from rep_coach import paths
from rep_coach.core.types import REP_SIGNAL_POINTS, SET_REST_S
from rep_coach.learned.classifier import (CLASSIFIER_INPUTS, CLASSIFIER_OUTPUTS,
                                          LearnedNearFailure)
from rep_coach.learned.onnx_model import ModelLoadError, OnnxModel
from rep_coach.learned.segmenter import (HISTORY_S, LearnedSegmenter, LearnedSignals,
                                         SEGMENTER_INPUTS, SEGMENTER_OUTPUTS)

SEGMENTER_FILE = 'segmenter.onnx'
CLASSIFIER_FILE = 'near_failure.onnx'

__all__ = ['load_stages', 'segmenter_factory', 'classifier_factory', 'load_segmenter_model',
           'load_classifier_model', 'ModelLoadError',
           'LearnedSegmenter', 'LearnedSignals', 'LearnedNearFailure', 'SEGMENTER_FILE',
           'CLASSIFIER_FILE']


def load_segmenter_model(path: Union[str, Path]) -> OnnxModel:
    """Load and check a segmenter ONNX file."""
    model = OnnxModel(Path(path), SEGMENTER_INPUTS, SEGMENTER_OUTPUTS)
    meta = model.meta_json('rep_coach')
    for key in ('channels', 'state_len'):
        if key not in meta:
            raise ModelLoadError(f'{path}: metadata rep_coach lacks {key!r}')
    return model


def load_classifier_model(path: Union[str, Path]) -> OnnxModel:
    """Load and check a near-failure ONNX file."""
    model = OnnxModel(Path(path), CLASSIFIER_INPUTS, CLASSIFIER_OUTPUTS)
    meta = model.meta_json('rep_coach')
    for key in ('sig_len', 'hidden', 'feat_mean'):
        if key not in meta:
            raise ModelLoadError(f'{path}: metadata rep_coach lacks {key!r}')
    # The signal comes cut to REP_SIGNAL_POINTS with each rep: a model trained on
    # another length cannot take it.
    if meta['sig_len'] != REP_SIGNAL_POINTS:
        raise ModelLoadError(f"{path}: metadata rep_coach 'sig_len' is {meta['sig_len']!r}, "
                             f'but rep events carry signals of {REP_SIGNAL_POINTS} points '
                             '(retrain with rep-coach train)')
    return model


def segmenter_factory(models_dir: Union[str, Path, None] = None,
                      set_rest_s: float = SET_REST_S,
                      history_s: float = HISTORY_S) -> Callable[[], LearnedSegmenter]:
    """
    Load and check ``segmenter.onnx``; return a factory of fresh segmenters.

    ``history_s``: span of :meth:`LearnedSegmenter.signals` (changes no event).
    """
    model = load_segmenter_model(_models_dir(models_dir) / SEGMENTER_FILE)
    return lambda: LearnedSegmenter(model, set_rest_s=set_rest_s, history_s=history_s)


def classifier_factory(models_dir: Union[str, Path, None] = None,
                       threshold: Union[float, None] = None
                       ) -> Callable[[], LearnedNearFailure]:
    """Load and check ``near_failure.onnx``; return a factory of fresh classifiers."""
    model = load_classifier_model(_models_dir(models_dir) / CLASSIFIER_FILE)
    return lambda: LearnedNearFailure(model, threshold=threshold)


def load_stages(models_dir: Union[str, Path, None] = None, set_rest_s: float = SET_REST_S,
                threshold: Union[float, None] = None
                ) -> Tuple[Callable[[], LearnedSegmenter], Callable[[], LearnedNearFailure]]:
    """
    Return ``(segmenter_factory, classifier_factory)`` for the models in ``models_dir``.

    Raises :class:`ModelLoadError` naming the file when a model is missing,
    corrupt or has the wrong inputs/outputs.  A node that runs one stage loads only
    that stage's file (:func:`segmenter_factory`, :func:`classifier_factory`).
    """
    return (segmenter_factory(models_dir, set_rest_s),
            classifier_factory(models_dir, threshold))


def _models_dir(models_dir: Union[str, Path, None]) -> Path:
    # One rule for where installed models live (ament share, pip prefix, checkout).
    return Path(models_dir) if models_dir else paths.models_dir()
