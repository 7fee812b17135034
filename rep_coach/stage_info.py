"""
What a stage runs, as one JSON description.

A stage's model (the ONNX file, or the baseline's configuration) and the parameters
that decide its outputs.  ``rep_segmenter`` and ``near_failure_classifier`` publish
theirs once, latched, on ``stage_info`` (:data:`rep_coach.topics.STAGE_INFO`), so a
session bag says which models and thresholds produced its ``reps`` and
``near_failure``; ``rep-coach evaluate`` describes the stages it replays with the same
code and compares.  Both get the description from :mod:`rep_coach.pipeline`, which
builds it from the stage object the factory makes (:func:`describe`): what is described
is what runs.  ROS-free; imports no onnxruntime.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import json
import math
from typing import Any, Dict, List, Mapping, Optional

from rep_coach.core.types import PAYLOAD_VERSION, PayloadError

SEGMENTER = 'segmenter'
NEAR_FAILURE = 'near_failure'
#: The stages, in pipeline order.
STAGES = (SEGMENTER, NEAR_FAILURE)
#: Node parameters that decide a stage's outputs besides its model, read from the stage
#: object that runs (the learned classifier's threshold may come from its model file).
DECIDING_PARAMETERS: Mapping[str, tuple] = {SEGMENTER: ('set_rest_s',),
                                            NEAR_FAILURE: ('threshold',)}


@dataclass(frozen=True)
class ModelFile:
    """The ONNX file a learned stage loaded, as loaded (``OnnxModel``)."""

    path: str
    size: int
    sha256: str
    #: The file's ``producer_name`` and ``model_version`` (None: the file stores none).
    producer: str = ''
    model_version: Optional[int] = None
    #: The file's metadata entries (``rep_coach``: what training exported), JSON decoded.
    metadata: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, model: Any) -> 'ModelFile':
        """Describe a loaded :class:`~rep_coach.learned.onnx_model.OnnxModel`."""
        return cls(path=str(model.path.resolve()), size=int(model.size), sha256=model.sha256,
                   producer=model.producer, model_version=model.model_version,
                   metadata={key: _json_or_text(value)
                             for key, value in sorted(model.metadata.items())})


@dataclass(frozen=True)
class Difference:
    """
    One way a stage differs from another description of it.

    ``field`` is ``value`` in the description compared and ``other`` in the other one.
    """

    stage: str
    field: str
    value: Any
    other: Any

    def text(self, other_name: str) -> str:
        """Return it as text, e.g. ``near_failure threshold 0.7 (replayed: 0.5)``."""
        shown = _sha_text if self.field == 'sha256' else _text
        return f'{self.stage} {self.field} {shown(self.value)} ({other_name}: {shown(self.other)})'


@dataclass(frozen=True)
class StageInfo:
    """What one stage runs, as published on ``stage_info``."""

    #: ``segmenter`` or ``near_failure``.
    stage: str
    #: ``learned`` or ``baseline``.
    model: str
    #: The deciding parameters (:data:`DECIDING_PARAMETERS`): ``set_rest_s`` or ``threshold``.
    parameters: Dict[str, float]
    #: The learned stage's ONNX file; None for the baseline.
    model_file: Optional[ModelFile] = None
    #: The baseline stage's configuration (its config dataclass); None for a learned stage.
    config: Optional[Dict[str, Any]] = None

    def to_json(self) -> str:
        """Encode as the ``stage_info`` payload (a JSON object, ``v`` its schema version)."""
        return json.dumps({**asdict(self), 'v': PAYLOAD_VERSION}, sort_keys=True,
                          allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> 'StageInfo':
        """Decode a ``stage_info`` payload; raises PayloadError naming what is wrong."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError('not a JSON object')
            file = data.get('model_file')
            info = cls(stage=str(data['stage']), model=str(data['model']),
                       parameters={str(k): float(v) for k, v in dict(data['parameters']).items()},
                       model_file=None if file is None else ModelFile(
                           path=str(file['path']), size=int(file['size']),
                           sha256=str(file['sha256']), producer=str(file.get('producer', '')),
                           model_version=file.get('model_version'),
                           metadata=dict(file.get('metadata') or {})),
                       config=None if data.get('config') is None else dict(data['config']))
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f'stage info payload: bad or missing field ({exc!r})') from exc
        if info.stage not in STAGES:
            raise PayloadError(f'stage info payload: unknown stage {info.stage!r}; expected '
                               f'one of {", ".join(STAGES)}')
        return info

    def differences(self, other: 'StageInfo') -> List[Difference]:
        """
        Return what makes ``other`` run differently from this stage (empty: the same).

        What decides the outputs is compared: the model kind, a learned model's file by
        its SHA-256 (not its path: a copy elsewhere is the same model), the deciding
        parameters, and a baseline's configuration beyond them.
        """
        found: List[Difference] = []

        def compare(name: str, value: Any, theirs: Any) -> None:
            if not _same(value, theirs):
                found.append(Difference(self.stage, name, value, theirs))

        compare('model', self.model, other.model)
        if self.model == other.model == 'learned':
            compare('sha256', _sha(self), _sha(other))
        for name in sorted(set(self.parameters) | set(other.parameters)):
            compare(name, self.parameters.get(name), other.parameters.get(name))
        if self.model == other.model == 'baseline':
            mine, theirs = self.config or {}, other.config or {}
            for name in sorted((set(mine) | set(theirs)) - set(self.parameters)):
                compare(name, mine.get(name), theirs.get(name))
        return found

    def file_text(self) -> str:
        """Return `` (segmenter.onnx sha256 5161f1b9c447)`` for a learned stage, else ''."""
        if self.model_file is None:
            return ''
        name = self.model_file.path.rsplit('/', 1)[-1]
        return f' ({name} sha256 {_sha_text(self.model_file.sha256)})'

    def summary(self) -> str:
        """Return one phrase: the model, its file (hash prefix) and the deciding parameters."""
        params = ', '.join(f'{k} {_text(v)}' for k, v in sorted(self.parameters.items()))
        return f'{self.stage} {self.model}{self.file_text()}' + (f', {params}' if params else '')


def describe(stage: str, model: str, instance: Any) -> StageInfo:
    """
    Describe ``instance``, a stage object of ``model`` kind as the factories build it.

    A learned stage carries its loaded ``OnnxModel`` (``instance.model``); a baseline
    stage its config dataclass (``instance.config``).  The deciding parameters are read
    from the instance, so they are the values it applies.
    """
    if stage not in STAGES:
        raise ValueError(f'unknown stage {stage!r}; expected one of {", ".join(STAGES)}')
    source = instance.config if model == 'baseline' else instance
    parameters = {name: float(getattr(source, name)) for name in DECIDING_PARAMETERS[stage]}
    if model == 'learned':
        return StageInfo(stage, model, parameters, model_file=ModelFile.of(instance.model))
    return StageInfo(stage, model, parameters, config=asdict(instance.config))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def _sha(info: StageInfo) -> Optional[str]:
    return info.model_file.sha256 if info.model_file is not None else None


def _text(value: Any) -> str:
    return f'{value:g}' if isinstance(value, float) else str(value)


def _sha_text(value: Any) -> str:
    return str(value)[:12] if value else str(value)


def _json_or_text(value: str) -> Any:
    """Decode a metadata entry written as JSON (rep_coach's are); keep any other as text."""
    try:
        return json.loads(value)
    except ValueError:
        return value
