"""``rep-coach evaluate DATA_DIR``: learned pipeline and baseline side by side.

``DATA_DIR`` is a thomas2025-layout directory or a rosbag2 bag recorded by the
system (``imu/data_raw`` plus ``labels/reps`` TrueRep JSON).  Every set is
replayed causally through the same streaming stages the nodes run; see
:mod:`rep_coach.core.evaluation` for the metric definitions.  Near failure is
RPE >= 8 (RIR <= 2), an assumption of rep_coach.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path
import sys
from typing import Any, Dict, List, Optional

from rep_coach.cli.checks import positive_int
from rep_coach.core.evaluation import ASSUMPTION, evaluate
from rep_coach.core.near_failure import BaselineNearFailure
from rep_coach.core.segmentation import BaselineSegmenter
from rep_coach.core.types import ImuRecording

LOG = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``evaluate`` subcommand."""
    parser = subparsers.add_parser(
        'evaluate', help='score the learned pipeline and the baseline on labelled data',
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('data', metavar='DATA_DIR', type=Path,
                        help='thomas2025-layout directory or a rosbag2 bag')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--models', type=Path, default=None,
                        help='directory of the learned models (default: the package models)')
    parser.add_argument('--subjects', nargs='*', default=None,
                        help='only these subjects (thomas2025 layout)')
    parser.add_argument('--limit', type=positive_int, default=None,
                        help='only the first N sets (N >= 1)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.set_defaults(func=run)
    return parser


def load_recordings(path: Path, subjects: Optional[List[str]] = None) -> List[ImuRecording]:
    """Load labelled recordings from a thomas2025 directory or a rosbag2 bag."""
    path = Path(path)
    if (path / 'rep_indexes_corrected.txt').is_file():
        from rep_coach.core.thomas2025 import load_dataset
        return load_dataset(path, subjects)
    if (path / 'metadata.yaml').is_file() or path.suffix in ('.mcap', '.db3'):
        return [read_labelled_bag(path)]
    raise FileNotFoundError(f'{path}: neither a thomas2025-layout directory '
                            f'(rep_indexes_corrected.txt) nor a rosbag2 bag (metadata.yaml)')


def read_labelled_bag(path: Path) -> ImuRecording:
    """Read ``imu/data_raw`` and ``labels/reps`` of a bag into one labelled recording.

    Topics may carry a namespace (``/station3/imu/data_raw``); the one bag reader
    of the package, :func:`rep_coach.core.sources.read_imu_bag`, does the work.
    Raises ``ValueError`` (naming the bag) when it is unreadable or has no labels.
    """
    from rep_coach.core.sources import read_imu_bag
    recording = read_imu_bag(Path(path))
    if not any(s.reps for s in recording.sets):
        raise ValueError(f'{path}: no labels/reps (TrueRep JSON) messages to score against')
    return recording


def _learned(models: Optional[Path], recordings: List[ImuRecording],
             progress: bool) -> Dict[str, Any]:
    try:
        import rep_coach.learned as learned
        seg_f, clf_f = learned.load_stages(models)
        meta = seg_f().model.meta_json('rep_coach')   # the loaded model's, not a second read
    except Exception as exc:  # absent package, no models, bad model: report, don't fail
        return {'error': f'learned pipeline unavailable: {exc}'}
    result = evaluate(recordings, seg_f, clf_f, progress=progress)
    # Scores on subjects the models learned from are not held out: say so.
    trained = set(meta.get('trained_on_subjects') or ())
    result['in_sample_subjects'] = sorted(trained & {r.subject for r in recordings})
    return result


def run(args: argparse.Namespace) -> int:
    """Evaluate both pipelines; print a table or one JSON object; return the exit code."""
    try:
        recordings = load_recordings(args.data, getattr(args, 'subjects', None))
    except (OSError, ValueError) as exc:
        print(f'rep-coach evaluate: {exc}', file=sys.stderr)
        return 2
    if getattr(args, 'limit', None):
        recordings = recordings[:args.limit]
    if not recordings:
        print(f'rep-coach evaluate: {args.data}: no labelled sets', file=sys.stderr)
        return 2
    progress = not getattr(args, 'no_progress', False)
    models = getattr(args, 'models', None)
    learned = _learned(models, recordings, progress)
    if models is not None and 'error' in learned:   # asked for these models: no fallback
        print(f'rep-coach evaluate: --models {models}: {learned["error"]}', file=sys.stderr)
        return 2
    baseline = evaluate(recordings, BaselineSegmenter, BaselineNearFailure, progress=progress)
    if args.json:
        out = {'learned': None if 'error' in learned else learned, 'baseline': baseline,
               'assumption': ASSUMPTION, 'n_sets': len(recordings)}
        if 'error' in learned:
            out['learned_reason'] = learned['error']
        print(json.dumps(out, allow_nan=False))
        return 0
    print(_table(learned, baseline, len(recordings)))
    return 0


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '-'
    return f'{value:.3f}' if isinstance(value, float) else str(value)


def _table(learned: Dict[str, Any], baseline: Dict[str, Any], n_sets: int) -> str:
    lines = [f'{n_sets} sets; {ASSUMPTION}', f'{"metric":28s} {"learned":>10s} {"baseline":>10s}']
    for group in ('segmentation', 'near_failure'):
        lines.append(f'[{group}]')
        for key, value in baseline[group].items():
            if key == 'assumption':
                continue
            other = learned.get(group, {}).get(key) if 'error' not in learned else None
            lines.append(f'  {key:26s} {_fmt(other):>10s} {_fmt(value):>10s}')
    lines.append(f'  {"speed_x_realtime":26s} {_fmt(learned.get("speed_x_realtime")):>10s} '
                 f'{_fmt(baseline.get("speed_x_realtime")):>10s}')
    if 'error' in learned:
        lines.append(f'learned: {learned["error"]}')
    if learned.get('in_sample_subjects'):
        lines.append(f'note: the learned models were trained on '
                     f'{", ".join(learned["in_sample_subjects"])}, so their scores here are not '
                     'held out (held-out scores: rep-coach train, docs/models.md)')
    return '\n'.join(lines)
