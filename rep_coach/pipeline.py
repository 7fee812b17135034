"""Build the two stages (learned or baseline) from the nodes' parameters.

One place decides which implementation runs, so the nodes, ``rep-coach evaluate``
and the benchmarks construct exactly the same stages from the same settings.
"""

from __future__ import annotations

from typing import Any, Callable, Tuple

from rep_coach.core.near_failure import BaselineNearFailure, BaselineNearFailureConfig
from rep_coach.core.segmentation import BaselineSegmenter, BaselineSegmenterConfig
from rep_coach.core.stages import NearFailureClassifier, RepSegmenter
from rep_coach.core.types import SET_REST_S
from rep_coach.paths import models_dir as resolve_models_dir

SegmenterFactory = Callable[[], RepSegmenter]
ClassifierFactory = Callable[[], NearFailureClassifier]


class StageError(RuntimeError):
    """A stage that cannot be built (missing or corrupt model); the message names it."""


def segmenter_factory(model: str, models_dir: str = '',
                      set_rest_s: float = SET_REST_S) -> SegmenterFactory:
    """Return a factory of stage 1 for ``model`` ('learned' or 'baseline') or raise StageError.

    Only this stage's model file is read: the segmenter node needs no classifier.
    """
    return _factory(model, BaselineSegmenterConfig(set_rest_s=set_rest_s), BaselineSegmenter,
                    lambda learned: learned.segmenter_factory(resolve_models_dir(models_dir),
                                                              set_rest_s=set_rest_s))


def classifier_factory(model: str, models_dir: str = '',
                       threshold: float = 0.5) -> ClassifierFactory:
    """Return a factory of stage 2 for ``model`` ('learned' or 'baseline') or raise StageError."""
    return _factory(model, BaselineNearFailureConfig(threshold=threshold), BaselineNearFailure,
                    lambda learned: learned.classifier_factory(resolve_models_dir(models_dir),
                                                               threshold=threshold))


def _factory(model: str, config: Any, baseline: Callable[[Any], Any],
             load_learned: Callable[[Any], Callable[[], Any]]) -> Callable[[], Any]:
    if model == 'baseline':
        try:
            config.validate()
        except ValueError as exc:   # names the field; a node reports it and exits 2
            raise StageError(f'baseline stages: {exc}') from exc
        return lambda: baseline(config)
    if model == 'learned':
        # Imported here: the baseline runs without onnxruntime.
        import rep_coach.learned as learned
        try:
            return load_learned(learned)
        except learned.ModelLoadError as exc:
            raise StageError(str(exc)) from exc
    raise StageError(f"unknown model {model!r}: expected 'learned' or 'baseline'")


def stage_factories(model: str, models_dir: str = '', set_rest_s: float = SET_REST_S,
                    threshold: float = 0.5) -> Tuple[SegmenterFactory, ClassifierFactory]:
    """Factories of both stages for ``model`` in {'learned', 'baseline'}."""
    return (segmenter_factory(model, models_dir, set_rest_s),
            classifier_factory(model, models_dir, threshold))
