"""
Loading ONNX models with their interface checked up front.

A wrong, corrupt or missing model must fail at start-up with the file's name,
not with a shape error deep inside the first inference.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import json
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

#: A dimension: a fixed size, or None for "any" (a dynamic axis).
Dim = Optional[int]
#: What onnxruntime reports as the version of a model whose file stores none.
NO_MODEL_VERSION = 2**63 - 1


class ModelLoadError(RuntimeError):
    """A model file that is missing, unreadable or has the wrong interface."""


@dataclass(frozen=True)
class TensorSpec:
    """Expected name and shape of one model input or output."""

    name: str
    shape: Tuple[Dim, ...]


def _dims(shape: Sequence[Union[int, str, None]]) -> Tuple[Dim, ...]:
    return tuple(d if isinstance(d, int) else None for d in shape)


def _compatible(actual: Tuple[Dim, ...], expected: Tuple[Dim, ...]) -> bool:
    if len(actual) != len(expected):
        return False
    return all(e is None or a is None or a == e for a, e in zip(actual, expected))


class OnnxModel:
    """An onnxruntime session (1 intra-op thread) whose interface has been checked."""

    def __init__(self, path: Path, inputs: Sequence[TensorSpec],
                 outputs: Sequence[TensorSpec]) -> None:
        """Load ``path`` and check its input/output names and shapes against the specs."""
        import onnxruntime as ort
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelLoadError(f'{self.path}: model file not found')
        # The session is built from these very bytes, so the hash says what was loaded
        # even if the file is replaced afterwards (a stage's description, stage_info).
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ModelLoadError(f'{self.path}: cannot read ({exc.strerror or exc})') from exc
        #: Size in bytes and SHA-256 (hex) of the file as loaded.
        self.size = len(data)
        self.sha256 = hashlib.sha256(data).hexdigest()
        opts = ort.SessionOptions()
        # One core for the whole pipeline: no thread pool spinning next to the nodes.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(data, sess_options=opts,
                                                providers=['CPUExecutionProvider'])
        except Exception as exc:  # noqa: B902 (onnxruntime raises several private types)
            raise ModelLoadError(f'{self.path}: not a loadable ONNX model ({exc})') from exc
        self._check('input', self.session.get_inputs(), inputs)
        self._check('output', self.session.get_outputs(), outputs)
        self.input_names = [s.name for s in inputs]
        self.output_names = [s.name for s in outputs]
        model_meta = self.session.get_modelmeta()
        self.metadata: Dict[str, str] = dict(model_meta.custom_metadata_map or {})
        #: The file's ``producer_name`` and ``model_version`` (None: the file stores none).
        self.producer: str = model_meta.producer_name or ''
        self.model_version: Optional[int] = (None if model_meta.version == NO_MODEL_VERSION
                                             else int(model_meta.version))

    def _check(self, what: str, actual, expected: Sequence[TensorSpec]) -> None:
        got = {a.name: _dims(a.shape) for a in actual}
        for spec in expected:
            if spec.name not in got:
                raise ModelLoadError(f'{self.path}: no {what} named {spec.name!r} '
                                     f'(has {sorted(got)})')
            if not _compatible(got[spec.name], spec.shape):
                raise ModelLoadError(f'{self.path}: {what} {spec.name!r} has shape '
                                     f'{list(got[spec.name])}, expected {list(spec.shape)}')

    def meta_json(self, key: str) -> Dict:
        """Decode a JSON metadata entry written by the exporter; error names the file."""
        if key not in self.metadata:
            raise ModelLoadError(f'{self.path}: metadata {key!r} missing (not exported by '
                                 f'rep-coach train?)')
        try:
            return json.loads(self.metadata[key])
        except ValueError as exc:
            raise ModelLoadError(f'{self.path}: metadata {key!r} is not JSON') from exc

    def run(self, **feeds: np.ndarray):
        """Run the model on named inputs; return outputs in spec order."""
        return self.session.run(self.output_names, feeds)
