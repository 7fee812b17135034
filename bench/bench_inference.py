"""
Per-update inference latency: ours vs the published-size reference, ORT vs PyTorch.

One intra-op thread everywhere (the pipeline's budget is one core).  "Update"
means one call a stage makes live:

* ours, segmenter: one 0.1 s hop (10 samples + state) of the streaming TCN;
* ours, classifier: one rep (features + 64-sample signal + GRU state);
* ours, pipeline push: the segmenter's ``push`` and the classifier's ``on_rep``
  per 0.1 s block (resampling, features, rep signal, event logic included);
* reference segmenter: one 256-sample window (every 0.64 s);
* reference classifier: one window step of the conv encoder + 2 x 1024 LSTM.

The reference is exported untrained (latency does not depend on the weights).
Run: ``python bench/bench_inference.py [--json] [--models models] [--n 300]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import tempfile
import time
from typing import Callable, Dict

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _timeit(fn: Callable[[], object], n: int) -> Dict[str, float]:
    for _ in range(min(20, n)):
        fn()
    times = []
    for _ in range(n):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    ms = np.array(times) * 1e3
    return {'p50_ms': round(float(np.percentile(ms, 50)), 4),
            'p99_ms': round(float(np.percentile(ms, 99)), 4),
            'updates_per_s': round(float(1e3 / ms.mean()), 1)}


def _pipeline_push(models: Path, n: int) -> Dict[str, float]:
    """Whole stage 1 + stage 2 per 0.1 s block of a simulated set (Python included)."""
    from rep_coach.core.sim import simulate
    from rep_coach.core.sim.config import SimConfig
    from rep_coach.learned import load_stages
    seg_f, clf_f = load_stages(models)
    rec = simulate(SimConfig(seed=7, sets=1))
    seg, clf = seg_f(), clf_f()
    blocks = [rec.imu.slice(i, i + 10) for i in range(0, len(rec.imu), 10)]
    times = []
    for block in blocks:
        tic = time.perf_counter()
        for event in seg.push(block):
            clf.on_rep(event)
        times.append(time.perf_counter() - tic)
    ms = np.array(times[50:]) * 1e3
    return {'p50_ms': round(float(np.percentile(ms, 50)), 4),
            'p99_ms': round(float(np.percentile(ms, 99)), 4),
            'updates_per_s': round(float(1e3 / ms.mean()), 1)}


def main() -> int:
    """Run the benchmark; print a table or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--json', action='store_true', help='print JSON only')
    parser.add_argument('--models', type=Path, default=REPO / 'models')
    parser.add_argument('--n', type=int, default=300, help='timed calls per case')
    args = parser.parse_args()

    try:
        import torch
    except ImportError as exc:   # the train extra: ours still run in onnxruntime
        torch = None
        missing = (f'{exc} (install rep_coach[train]): the published-size reference, the '
                   'PyTorch timings and the parameter counts need it')
    else:
        torch.set_num_threads(1)
    from rep_coach.learned import load_classifier_model, load_segmenter_model
    from rep_coach.core.rep_features import RELATIVE_FEATURES
    from rep_coach.learned.kinematic_input import N_INPUTS
    from rep_coach.learned.preprocess import N_REP_CHANNELS

    out: Dict[str, Dict] = {}
    seg_path, clf_path = args.models / 'segmenter.onnx', args.models / 'near_failure.onnx'
    seg, clf = load_segmenter_model(seg_path), load_classifier_model(clf_path)
    smeta, cmeta = seg.meta_json('rep_coach'), clf.meta_json('rep_coach')
    x = np.random.default_rng(0).uniform(-1, 1, (1, smeta.get('in_channels', N_INPUTS), 10))
    x = x.astype(np.float32)
    state = np.zeros((1, smeta['channels'], smeta['state_len']), np.float32)
    out['ours_segmenter_ort'] = _timeit(lambda: seg.run(imu=x, state=state), args.n)
    feats = np.zeros((1, len(RELATIVE_FEATURES)), np.float32)
    sig = np.zeros((1, N_REP_CHANNELS, cmeta['sig_len']), np.float32)
    h = np.zeros((1, 1, cmeta['hidden']), np.float32)
    out['ours_classifier_ort'] = _timeit(lambda: clf.run(features=feats, signal=sig, h=h),
                                         args.n)
    out['ours_pipeline_push'] = _pipeline_push(args.models, args.n)
    out['ours_segmenter_ort']['onnx_bytes'] = seg_path.stat().st_size
    out['ours_classifier_ort']['onnx_bytes'] = clf_path.stat().st_size
    if torch is None:
        return _report(out, args.json, {'available': False, 'reason': missing})
    _torch_cases(out, args, smeta, cmeta, x, feats, sig, h)
    return _report(out, args.json, {'available': True})


def _torch_cases(out: Dict[str, Dict], args: argparse.Namespace, smeta: Dict, cmeta: Dict,
                 x: np.ndarray, feats: np.ndarray, sig: np.ndarray, h: np.ndarray) -> None:
    """Add ours in PyTorch, the parameter counts and the published-size reference to ``out``."""
    import torch
    from rep_coach.training.models import (CausalTCN, n_params, RefClassifier, RefResNet,
                                           RepClassifier, RepClassifierStep, StreamingEnsemble)
    from rep_coach.training.reference import (export_ref_classifier, export_ref_segmenter,
                                              load_ref_classifier, load_ref_segmenter,
                                              SEG_FEATURES, WINDOW)
    from rep_coach.core.rep_features import RELATIVE_FEATURES
    # Files from before ensembles carry no 'members': their 'channels' is the one network's.
    shape = {'channels': smeta.get('member_channels', smeta['channels'])}
    if 'dilations' in smeta:
        shape['dilations'] = smeta['dilations']
    tcns = [CausalTCN(**shape) for _ in range(smeta.get('members', 1))]
    stream = StreamingEnsemble(tcns).eval()
    rc = RepClassifierStep(RepClassifier(len(RELATIVE_FEATURES), cmeta['sig_len'],
                                         hidden=cmeta['hidden'])).eval()
    tx, ts = torch.from_numpy(x), stream.initial_state()
    tf, tsig, th = torch.from_numpy(feats), torch.from_numpy(sig), torch.from_numpy(h)
    with torch.no_grad():
        out['ours_segmenter_torch'] = _timeit(lambda: stream(tx, ts), args.n)
        out['ours_classifier_torch'] = _timeit(lambda: rc(tf, tsig, th), args.n)
    out['ours_segmenter_ort']['params'] = sum(n_params(t) for t in tcns)
    out['ours_classifier_ort']['params'] = n_params(rc)

    ref_seg, ref_clf = RefResNet().eval(), RefClassifier().eval()
    w = torch.zeros(1, 6, WINDOW)
    rw, rs = torch.zeros(1, 1, 7, WINDOW), torch.zeros(1, 1, SEG_FEATURES)
    rh = torch.zeros(ref_clf.lstm.num_layers, 1, ref_clf.lstm.hidden_size)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        p1 = export_ref_segmenter(ref_seg, Path(tmp) / 'ref_seg.onnx')
        p2 = export_ref_classifier(ref_clf, Path(tmp) / 'ref_clf.onnx')
        s1, s2 = load_ref_segmenter(p1), load_ref_classifier(p2)
        wn, rwn, rsn, rhn = w.numpy(), rw.numpy(), rs.numpy(), rh.numpy()
        out['reference_segmenter_ort'] = _timeit(lambda: s1.run(None, {'window': wn}), args.n)
        out['reference_classifier_ort'] = _timeit(
            lambda: s2.run(None, {'window': rwn, 'seg': rsn, 'h': rhn, 'c': rhn}),
            max(50, args.n // 3))
        out['reference_segmenter_ort'].update(params=n_params(ref_seg),
                                              onnx_bytes=p1.stat().st_size)
        out['reference_classifier_ort'].update(params=n_params(ref_clf),
                                               onnx_bytes=p2.stat().st_size)
        out['reference_segmenter_torch'] = _timeit(lambda: ref_seg(w), args.n)
        out['reference_classifier_torch'] = _timeit(
            lambda: ref_clf(rw, rs, rh, rh), max(50, args.n // 3))


def _report(out: Dict[str, Dict], as_json: bool, torch_part: Dict) -> int:
    """
    Print the cases and their summary (a table, or JSON with ``--json``); return 0.

    ``torch_part`` says whether the PyTorch cases ran (``available``) or why not
    (``reason``); without them the reference's figures are None.
    """
    ours_bytes = (out['ours_segmenter_ort']['onnx_bytes']
                  + out['ours_classifier_ort']['onnx_bytes'])
    ref = torch_part['available']
    ref_bytes = (out['reference_segmenter_ort']['onnx_bytes']
                 + out['reference_classifier_ort']['onnx_bytes']) if ref else None
    summary = {
        'ours_total_onnx_bytes': ours_bytes,
        'reference_total_onnx_bytes': ref_bytes,
        'size_ratio_reference_over_ours': round(ref_bytes / ours_bytes, 1) if ref else None,
        'segmenter_p50_ratio_reference_over_ours': round(
            out['reference_segmenter_ort']['p50_ms'] / out['ours_segmenter_ort']['p50_ms'], 1)
        if ref else None,
        # Per second of stream: 10 hops for ours, 1 / 0.64 windows for the reference.
        'segmenter_ms_per_stream_s_ours': round(10 * out['ours_segmenter_ort']['p50_ms'], 3),
        'segmenter_ms_per_stream_s_reference': round(
            out['reference_segmenter_ort']['p50_ms'] / 0.64, 3) if ref else None,
        'ours_updates_per_s_sustained': out['ours_segmenter_ort']['updates_per_s'],
    }
    result = {'cases': out, 'summary': summary, 'threads': 1, 'torch': torch_part}
    if as_json:
        print(json.dumps(result, indent=1))
        return 0
    print(f'{"case":32s} {"p50 ms":>9s} {"p99 ms":>9s} {"upd/s":>9s} {"params":>10s} '
          f'{"onnx KB":>9s}')
    for name, r in out.items():
        print(f'{name:32s} {r["p50_ms"]:9.3f} {r["p99_ms"]:9.3f} {r["updates_per_s"]:9.1f} '
              f'{r.get("params", ""):>10} '
              f'{format(r["onnx_bytes"] / 1024, ".1f") if "onnx_bytes" in r else "":>9}')
    for k, v in summary.items():
        print(f'{k}: {v}')
    if not ref:
        print(f'not available: {torch_part["reason"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
