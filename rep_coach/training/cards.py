"""
Model cards (``models/*.md``) rendered from a training report and a benchmark.

Usage: ``python -m rep_coach.training.cards REPORT.json BENCH.json models/ [REFERENCE.json]``;
REFERENCE is the report of a ``rep-coach train --reference`` run, whose held-out
scores then appear next to ours.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys
from typing import Any, Dict, Optional

_SEG_KEYS = ('sample_f1', 'event_f1', 'count_mae', 'cue_delay_p50_s', 'cue_delay_p90_s')
_NF_KEYS = ('rep_f1', 'rep_precision', 'rep_recall', 'window_f1', 'rir_mae')
#: Issue targets: (part, metric, target, True if higher is better).
_TARGETS = (('segmentation', 'sample_f1', 0.93, True),
            ('segmentation', 'event_f1', 0.97, True),
            ('segmentation', 'count_mae', 0.3, False),
            ('segmentation', 'cue_delay_p50_s', 0.4, False),
            ('near_failure', 'rep_f1', 0.85, True))


def _baselines(report: Dict[str, Any]) -> tuple:
    """(held-out baseline, shipped baseline): held out like the learned stages if reported."""
    shipped = report['baseline']
    return report.get('baseline_loso', shipped), shipped


def _verdict(ours: float, theirs: float, higher: bool) -> str:
    better = ours > theirs if higher else ours < theirs
    return 'better' if better else '**not better**'


def _target_lines(report: Dict[str, Any], reference: Optional[Dict] = None) -> list:
    """One line per target: pooled LOSO value, target, baselines (and reference), verdicts."""
    loso = report['loso']
    held, shipped = _baselines(report)
    name = 'baseline held out' if 'baseline_loso' in report else 'baseline'
    lines = []
    for part, key, target, higher in _TARGETS:
        ours, theirs, as_shipped = (loso[part].get(key), held[part].get(key),
                                    shipped[part].get(key))
        if ours is None or theirs is None:
            continue
        met = ours >= target if higher else ours <= target
        line = (f'- {key}: {ours} (target {"&ge;" if higher else "&le;"} {target}: '
                f'{"met" if met else "**missed**"}); {name} {theirs}: learned '
                f'{_verdict(ours, theirs, higher)}')
        if as_shipped != theirs:
            line += (f'; baseline as shipped (not held out) {as_shipped}: learned '
                     f'{_verdict(ours, as_shipped, higher)}')
        theirs = (reference or {}).get(part, {}).get(key)
        if theirs is not None:
            line += (f'; published-size reference {theirs}: learned '
                     f'{_verdict(ours, theirs, higher)}')
        lines.append(line)
    return lines


def _row(label: str, metrics: Dict[str, Any], keys, bold: bool = False) -> str:
    """One table row; a metric the row lacks (None) reads '-'."""
    cells = ['-' if metrics.get(k) is None else str(metrics.get(k)) for k in keys]
    if bold:
        cells = [f'**{c}**' for c in cells]
    return f'| {label} | ' + ' | '.join(cells) + ' |'


def _table(report: Dict[str, Any], part: str, keys, reference: Optional[Dict] = None) -> str:
    loso = report['loso']
    held, shipped = _baselines(report)
    lines = ['| held out | ' + ' | '.join(keys) + ' |', '|---' * (len(keys) + 1) + '|']
    for sub, res in sorted(loso['per_subject'].items()):
        lines.append(_row(sub, res[part], keys))
        bsub = held.get('per_subject', {}).get(sub)
        if bsub:
            lines.append(_row(f'{sub} baseline', bsub[part], keys))
    lines.append(_row('**pooled (learned)**', loso[part], keys, bold=True))
    lines.append(_row('baseline held out, pooled', held[part], keys))
    if any(held[part].get(k) != shipped[part].get(k) for k in keys):
        lines.append(_row('baseline as shipped (not held out)', shipped[part], keys))
    if reference and part in reference:
        lines.append(_row('published-size reference, pooled', reference[part], keys))
    return '\n'.join(lines)


def render(report: Dict[str, Any], bench: Dict[str, Any], name: str,
           reference: Optional[Dict[str, Any]] = None) -> str:
    """
    Markdown card of ``segmenter`` or ``near_failure``.

    ``reference`` is the ``reference`` entry of a ``--reference`` training report.
    """
    cases = bench['cases']
    seg = name == 'segmenter'
    case = cases['ours_segmenter_ort' if seg else 'ours_classifier_ort']
    title = ('Stage 1: streaming rep segmenter (causal TCNs, averaged)' if seg
             else 'Stage 2: near-failure / reps-in-reserve classifier')
    final = report.get('final', {})
    members, seed = final.get('segmenter_members', 1), report.get('seed', 0)
    what = (
        f'An ensemble of {members} causal dilated residual TCNs, trained alike with seeds '
        f'{seed}..{seed + members - 1} and averaged '
        "(mean logits, one ONNX graph whose state stacks the members' states; on four "
        "lifters one network's rep count depends on its seed). Each: 32 channels, "
        '7 blocks x 2 convs, dilations 1..64, '
        'receptive field 5.09 s, over four mounting-invariant channels per 100 Hz sample '
        '(`rep_coach/learned/kinematic_input.py`): the forearm angle from the extended '
        'pose, measured by gravity (`rep_coach/core/arm_pose.py`), the principal-axis '
        'rate signed lifting-positive, |omega| and |a| - g. Streaming form: the new '
        'samples of every 0.1 s hop plus a packed state (past inputs of every conv) give '
        'per-sample logits of "0.4 s before to 0.3 s after a rep end" and "inside a rep"; '
        'identical to offline inference. Trained on the labels except where the '
        "recording, not the lift, placed them: a set's last rep from its top to its "
        'labelled end, and the "inside a rep" output before the first rep\'s top, are '
        'left out of the loss (`rep_coach/training/seg_train.py`). '
        'Rep end = falling edge of the first output - '
        '0.3 s (`rep_coach/learned/events.py`); a candidate end counts as a rep only if '
        'the forearm angle fell from a top since the previous rep by at least half of '
        "that rep's fall (range-of-motion check, `rep_coach/learned/segmenter.py`); a "
        "set's first rep, which has no previous rep, needs a run peaking at 0.5 or more "
        '(fidgets at rest make weak runs).'
        if seg else
        'Per rep: the 5 set-relative features of `rep_coach/core/rep_features.py` '
        "(velocity loss and peak velocity loss against the set's best rep, duration and "
        "concentric-time ratios to the set's first reps, the mean velocity loss of this "
        'rep and the previous one; computed by stage 1 from its rate, integrated over '
        "each rep), a small conv encoder of the rep's raw 6-axis signal resampled to "
        '64 samples (cut by stage 1 and carried in the rep event) as 5 mounting-invariant '
        'channels (`rep_channels` in `rep_coach/learned/preprocess.py`), and a GRU (32 '
        'units) '
        'whose state is **not** carried across reps (`recurrent: false`: carried, it '
        "learned the training lifters' rep counts; the set context is in the features' "
        'tracker). Heads: near-failure probability '
        'and reps in reserve 0/1/2/3+.')
    parts = [
        f'# {name}.onnx - {title}', '', what, '',
        '## Data', '',
        'thomas2025 wrist-IMU biceps curls (Thomas & Wahlstrom, arXiv 2510.03197): 44 sets, '
        '4 subjects (A321 34 sets, G998 4, T417 3, T456 3), 507 reps, 139 with RPE >= 8. '
        '**Assumption: near failure = RPE >= 8 (RIR <= 2) on the RIR-based RPE scale; '
        "not the dataset authors' statement.** RIR classes from RPE (10 -> 0, 9 -> 1, "
        '8 -> 2, <= 7 -> 3+).', '',
        f'The committed model is trained on all 4 subjects ({final.get("subjects")}), seed '
        f'{report.get("seed")}, command: `{report.get("command")}`.', '',
        '## Protocol', '',
        "Leave-one-subject-out (4 folds); each fold's models never see the held-out "
        'subject (data, feature statistics, thresholds). Hyper-parameters are fixed in '
        'code; there was no hyper-parameter search. **Caveat:** the design went through '
        'ten versions (see `docs/models.md`), each scored by this LOSO; the changes '
        '(gravity-referenced inputs, falling-edge picker, set-relative features, no '
        'memory across reps, invariant rep-signal channels, three averaged segmenters, '
        'training without the recording-placed set edges) '
        'were motivated by analyses of held-out folds, so these '
        'numbers are somewhat optimistic; the held-back fifth subject is the honest test. '
        'Scores come from `rep_coach/core/evaluation.py` (causal streaming replay; '
        'results do not depend on the block size). The baseline is the signal-processing '
        'pipeline. It has one fitted parameter, the velocity loss its rule centres on; '
        'the baseline rows choose it per fold on the training subjects, as the learned '
        'stages are trained, while "as shipped" is its default, chosen with all four '
        'subjects, so not held out. A321 contributes 34 of 44 sets, so '
        'pooled numbers are dominated by it; the other folds have 3-4 sets each.', '',
        '## Held-out metrics', '',
        _table(report, 'segmentation', _SEG_KEYS, reference), '']
    parts += ['', _table(report, 'near_failure', _NF_KEYS, reference), '']
    if reference:
        parts += [_reference_note(reference), '']
    parts += [
        '## Size and latency', '',
        f'- parameters: {case.get("params")}; ONNX: {case.get("onnx_bytes")} bytes',
        f'- onnxruntime, 1 thread, per update ({"0.1 s hop" if seg else "one rep"}): '
        f'p50 {case["p50_ms"]} ms, p99 {case["p99_ms"]} ms '
        f'(from `bench/bench_inference.py` on the training machine)',
        f"- whole pipeline per 0.1 s block (the segmenter's push and the classifier's "
        f'on_rep: resampling, features, rep signal, events): '
        f'p50 {cases["ours_pipeline_push"]["p50_ms"]} ms, '
        f'p99 {cases["ours_pipeline_push"]["p99_ms"]} ms',
        f'- published-size reference for comparison: segmenter '
        f'{cases["reference_segmenter_ort"]["params"]} params, '
        f'{cases["reference_segmenter_ort"]["onnx_bytes"]} bytes, p50 '
        f'{cases["reference_segmenter_ort"]["p50_ms"]} ms per window; classifier '
        f'{cases["reference_classifier_ort"]["params"]} params, '
        f'{cases["reference_classifier_ort"]["onnx_bytes"]} bytes, p50 '
        f'{cases["reference_classifier_ort"]["p50_ms"]} ms per step', '',
        '## Targets (pooled LOSO)', '', *_target_lines(report, reference), '',
        '## Known gaps', '',
        "- The labels are the dataset authors' detector's output: each boundary is the "
        'midpoint of a still span of the smoothed ACC_X (550 of 551; '
        "`scripts/label_convention.py`). So a set's last rep ends halfway between the "
        'arm coming to rest and the end of the recording, 1.1-4.2 s after the arm is down '
        '(the other reps: a median 0.37 s). No live segmenter knows when the recording '
        'will stop: one exact on every other end would score sample_f1 and event_f1 '
        '0.915, below the targets of 0.93 and 0.97.',
        "- Results vary between training runs. One segmenter network's count_mae over "
        'seeds 0-5 was 0.09, 0.02, 0.18, 0.02, 0.05 and 0.05 (the A321 fold learns from '
        '10 sets of three other lifters and is unsure at slow reps near failure); the '
        'committed segmenter averages three (v10 seeds 0-2: 0.023; seeds 3-5, the check: '
        "0.045). The classifier's near-failure rep F1 over seeds 0-5 on v8's single "
        "networks' reps: 0.73, 0.72, 0.70, 0.73, 0.74 and 0.72. On v10's segmenters, six "
        'classifier seeds give rep F1 0.72-0.76, window F1 0.79-0.80 (both above the '
        "baseline held out) and RIR MAE 0.37-0.48: behind the baseline's 0.46 for two "
        'of the six; the committed seed is among the better ones. See `docs/models.md`.',
        '- The angle assumes the lifter holds the arm extended (still for 0.5 s) before '
        'a set; a set started from another pose reads a constant offset at every rep end '
        '(trained for up to 30 deg).',
        '']
    return '\n'.join(parts)


def _reference_note(reference: Dict[str, Any]) -> str:
    """Say how the reference rows were trained (it gets far less CPU than a GPU would give)."""
    note = (f'The published-size reference (`rep_coach/training/reference.py`) is trained '
            f'per fold like ours and scored by the same harness: segmenter '
            f'{reference.get("params")} parameters, {reference.get("train_steps_per_fold")} '
            f'steps of 16 windows per fold')
    if 'near_failure' in reference:
        note += (f'; classifier {reference.get("classifier_params")} parameters, '
                 f'{reference.get("classifier_epochs")} epochs over the windows its '
                 f'segmenter gives on the training sets. Its window_f1 is its own '
                 f'per-window verdict (the published protocol); its rep_f1 is the verdict '
                 f'of the window that emitted the rep; it estimates no RIR')
    else:
        note += '; its near-failure classifier was not trained in this run'
    command = reference.get('command')
    return note + (f'. Command: `{command}`.' if command else '.')


def main(argv=None) -> int:
    """Write ``segmenter.md`` and ``near_failure.md``."""
    argv = sys.argv[1:] if argv is None else argv
    report = json.loads(Path(argv[0]).read_text())
    bench = json.loads(Path(argv[1]).read_text())
    out = Path(argv[2])
    reference = None
    if len(argv) > 3:
        ref_report = json.loads(Path(argv[3]).read_text())
        reference = dict(ref_report['reference'], command=ref_report.get('command'))
    for name in ('segmenter', 'near_failure'):
        (out / f'{name}.md').write_text(render(report, bench, name, reference))
    return 0


if __name__ == '__main__':
    sys.exit(main())
