"""Build the two stages (learned or baseline) from the nodes' parameters.

One place decides which implementation runs, so the nodes, ``rep-coach evaluate``
and the benchmarks construct exactly the same stages from the same settings.
"""

from __future__ import annotations

from typing import Callable, Tuple

from rep_coach.core.near_failure import BaselineNearFailure, BaselineNearFailureConfig
from rep_coach.core.segmentation import BaselineSegmenter, BaselineSegmenterConfig
from rep_coach.core.stages import NearFailureClassifier, RepSegmenter
from rep_coach.core.types import SET_REST_S
from rep_coach.paths import models_dir as resolve_models_dir

SegmenterFactory = Callable[[], RepSegmenter]
ClassifierFactory = Callable[[], NearFailureClassifier]


class StageError(RuntimeError):
    """A stage that cannot be built (missing or corrupt model); the message names it."""


def baseline_factories(set_rest_s: float = SET_REST_S,
                       threshold: float = 0.5) -> Tuple[SegmenterFactory, ClassifierFactory]:
    """Factories of the signal-processing baseline."""
    seg_config = BaselineSegmenterConfig(set_rest_s=set_rest_s)
    clf_config = BaselineNearFailureConfig(threshold=threshold)
    try:
        seg_config.validate()
        clf_config.validate()
    except ValueError as exc:   # names the field; a node reports it and exits, no traceback
        raise StageError(f'baseline stages: {exc}') from exc
    return (lambda: BaselineSegmenter(seg_config),
            lambda: BaselineNearFailure(clf_config))


def learned_factories(models_dir: str = '', set_rest_s: float = SET_REST_S,
                      threshold: float = 0.5) -> Tuple[SegmenterFactory, ClassifierFactory]:
    """Factories of the learned (ONNX) stages; StageError names a bad model file."""
    from rep_coach.learned import load_stages, ModelLoadError
    try:
        return load_stages(resolve_models_dir(models_dir), set_rest_s=set_rest_s,
                           threshold=threshold)
    except ModelLoadError as exc:
        raise StageError(str(exc)) from exc


def stage_factories(model: str, models_dir: str = '', set_rest_s: float = SET_REST_S,
                    threshold: float = 0.5) -> Tuple[SegmenterFactory, ClassifierFactory]:
    """Factories for ``model`` in {'learned', 'baseline'}."""
    if model == 'baseline':
        return baseline_factories(set_rest_s, threshold)
    if model == 'learned':
        return learned_factories(models_dir, set_rest_s, threshold)
    raise StageError(f"unknown model {model!r}: expected 'learned' or 'baseline'")
