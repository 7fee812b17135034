"""ONNX export (opset 17) of the trained stages, with their runtime metadata."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Dict, Sequence, Tuple
import warnings

import onnx
from rep_coach.core.rep_features import RELATIVE_FEATURES
from rep_coach.training.models import (CausalTCN, RepClassifier, RepClassifierStep,
                                       StreamingEnsemble)
import torch

OPSET = 17


def _export(module: torch.nn.Module, args: Tuple[torch.Tensor, ...], path: Path,
            input_names: Sequence[str], output_names: Sequence[str],
            dynamic_axes: Dict[str, Dict[int, str]], meta: Dict[str, Any]) -> Path:
    buf = io.BytesIO()
    module.eval()
    with warnings.catch_warnings():
        # The TorchScript exporter is the one that needs no onnxscript; it warns it is legacy.
        warnings.simplefilter('ignore')
        torch.onnx.export(module, args, buf, dynamo=False, opset_version=OPSET,
                          input_names=list(input_names), output_names=list(output_names),
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    model = onnx.load_from_string(buf.getvalue())
    entry = model.metadata_props.add()
    entry.key, entry.value = 'rep_coach', json.dumps(meta)
    model.producer_name = 'rep_coach'
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def export_segmenter(members: Sequence[CausalTCN], path: Path, picker: Dict[str, float],
                     extra: Dict[str, Any] = None) -> Path:
    """
    Write the streaming ensemble of ``members``: (imu, state) -> (mean logits, state_out).

    ``channels`` in the metadata is the state's width (all members), ``member_channels``
    one member's.
    """
    stream = StreamingEnsemble(members)
    state = stream.initial_state()
    tcn = members[0]
    x = torch.zeros(1, tcn.stem.in_channels, 10)
    meta = {'kind': 'segmenter', 'channels': int(state.shape[1]),
            'members': len(members), 'member_channels': int(tcn.stem.out_channels),
            'dilations': list(tcn.dilations), 'in_channels': int(tcn.stem.in_channels),
            'state_len': int(state.shape[2]), 'rate_hz': 100.0,
            'receptive_field': tcn.receptive_field, 'picker': picker, **(extra or {})}
    return _export(stream, (x, state), path, ['imu', 'state'], ['logits', 'state_out'],
                   {'imu': {2: 'n'}, 'logits': {2: 'n'}}, meta)


def export_classifier(model: RepClassifier, path: Path, threshold: float,
                      extra: Dict[str, Any] = None) -> Path:
    """Write the one-rep step: (features, signal, h) -> (probability, rir_probs, h_out)."""
    step = RepClassifierStep(model)
    args = (torch.zeros(1, model.n_features), torch.zeros(1, model.sig_channels, model.sig_len),
            torch.zeros(1, 1, model.hidden))
    meta = {'kind': 'near_failure', 'sig_len': model.sig_len, 'hidden': model.hidden,
            'feat_mean': [float(v) for v in model.feat_mean], 'threshold': threshold,
            'recurrent': model.recurrent, 'features': list(RELATIVE_FEATURES), **(extra or {})}
    return _export(step, args, path, ['features', 'signal', 'h'],
                   ['probability', 'rir_probs', 'h_out'], {}, meta)
