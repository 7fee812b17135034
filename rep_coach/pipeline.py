"""
Build the two stages (learned or baseline) from the nodes' parameters.

One place decides which implementation runs, so the nodes, ``rep-coach evaluate``
and the benchmarks construct exactly the same stages from the same settings.  Each
factory also says what its stages run (:attr:`Stage.info`, a
:class:`~rep_coach.stage_info.StageInfo` described from a stage it built), which the
nodes publish on ``stage_info`` and evaluate compares with a bag's.  Settings not given
are the nodes' parameter defaults (``rep_coach/core/params.py``), so a stage built here
without them decides as a node with default parameters does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Mapping, Optional, Tuple, TypeVar

from rep_coach.core.near_failure import BaselineNearFailure, BaselineNearFailureConfig
from rep_coach.core.params import defaults
from rep_coach.core.segmentation import BaselineSegmenter, BaselineSegmenterConfig
from rep_coach.core.stages import NearFailureClassifier, RepSegmenter
from rep_coach.paths import models_dir as resolve_models_dir
from rep_coach.stage_info import describe, NEAR_FAILURE, SEGMENTER, StageInfo

#: ``rep_segmenter``'s default ``set_rest_s``, the node parameter table's.
DEFAULT_SET_REST_S: float = defaults('rep_segmenter')['set_rest_s']
#: ``near_failure_classifier``'s default ``threshold``, the node parameter table's: not the
#: one a learned model stores, so that every stage built here agrees with the nodes.
DEFAULT_THRESHOLD: float = defaults('near_failure_classifier')['threshold']

StageT = TypeVar('StageT')


@dataclass(frozen=True)
class Stage(Generic[StageT]):
    """A factory of fresh instances of one stage, and the description of what they run."""

    make: Callable[[], StageT]
    info: StageInfo

    def __call__(self) -> StageT:
        """Return a fresh instance (sharing the loaded model, if any)."""
        return self.make()


SegmenterFactory = Stage[RepSegmenter]
ClassifierFactory = Stage[NearFailureClassifier]


class StageError(RuntimeError):
    """
    A stage that cannot be built (missing or corrupt model); the message names it.

    ``parameter`` is the node parameter to blame: ``models_dir`` when the models come
    from a directory it names, else ``model``.
    """

    def __init__(self, message: str, parameter: str = 'model') -> None:
        super().__init__(message)
        self.parameter = parameter

    def for_node(self, params: Mapping[str, Any]) -> str:
        """Return the message prefixed by the parameter at fault and its value in ``params``."""
        return f'parameter {self.parameter!r} = {params.get(self.parameter)!r}: {self}'


def segmenter_factory(model: str, models_dir: str = '',
                      set_rest_s: float = DEFAULT_SET_REST_S,
                      history_s: Optional[float] = None) -> SegmenterFactory:
    """
    Return a factory of stage 1 for ``model`` ('learned' or 'baseline') or raise StageError.

    Only this stage's model file is read: the segmenter node needs no classifier.
    ``history_s`` is how much of its signals the stage keeps for ``signals()``
    (None: the stage's bounded default, as in the nodes; ``rep-coach plot`` keeps a
    whole recording); it changes no event.
    """
    kept = {} if history_s is None else {'history_s': float(history_s)}
    return _factory(SEGMENTER, model, models_dir,
                    BaselineSegmenterConfig(set_rest_s=set_rest_s, **kept), BaselineSegmenter,
                    lambda learned, path: learned.segmenter_factory(path, set_rest_s=set_rest_s,
                                                                    **kept))


def classifier_factory(model: str, models_dir: str = '',
                       threshold: float = DEFAULT_THRESHOLD) -> ClassifierFactory:
    """Return a factory of stage 2 for ``model`` ('learned' or 'baseline') or raise StageError."""
    return _factory(NEAR_FAILURE, model, models_dir,
                    BaselineNearFailureConfig(threshold=threshold),
                    BaselineNearFailure,
                    lambda learned, path: learned.classifier_factory(path, threshold=threshold))


def _factory(stage: str, model: str, models_dir: str, config: Any,
             baseline: Callable[[Any], Any],
             load_learned: Callable[[Any, Path], Callable[[], Any]]) -> Stage[Any]:
    make = _maker(model, models_dir, config, baseline, load_learned)
    # Described from a stage it made: the model it loaded, the values it applies.
    return Stage(make, describe(stage, model, make()))


def _maker(model: str, models_dir: str, config: Any, baseline: Callable[[Any], Any],
           load_learned: Callable[[Any, Path], Callable[[], Any]]) -> Callable[[], Any]:
    if model == 'baseline':
        try:
            config.validate()
        except ValueError as exc:   # names the field; a node reports it and exits 2
            raise StageError(f'baseline stages: {exc}') from exc
        return lambda: baseline(config)
    if model == 'learned':
        # A model missing from a directory the user named is that directory's fault; from
        # the installed one, the installation's (the message names the file either way).
        blame = 'models_dir' if models_dir else 'model'
        path = resolve_models_dir(models_dir)
        if models_dir and not path.is_dir():
            raise StageError(f'{path}: ' + ('not a directory' if path.exists()
                                            else 'no such directory'), blame)
        # Imported here: the baseline runs without onnxruntime.
        import rep_coach.learned as learned
        try:
            return load_learned(learned, path)
        except learned.ModelLoadError as exc:
            raise StageError(str(exc), blame) from exc
        except ImportError as exc:   # onnxruntime missing: the installation's, not the dir's
            raise StageError(f'the learned stages need onnxruntime, which does not import '
                             f'({exc}): install it, or set model to baseline') from exc
    raise StageError(f"unknown model {model!r}: expected 'learned' or 'baseline'")


def stage_factories(model: str, models_dir: str = '',
                    set_rest_s: float = DEFAULT_SET_REST_S,
                    threshold: float = DEFAULT_THRESHOLD, history_s: Optional[float] = None
                    ) -> Tuple[SegmenterFactory, ClassifierFactory]:
    """Factories of both stages for ``model`` in {'learned', 'baseline'} (see above)."""
    return (segmenter_factory(model, models_dir, set_rest_s, history_s),
            classifier_factory(model, models_dir, threshold))
