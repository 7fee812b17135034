"""``rep-coach evaluate DATA``: learned pipeline and baseline side by side.

``DATA`` is a thomas2025-layout directory, a rosbag2 bag recorded by the system
(``imu/data_raw`` plus ``labels/reps`` TrueRep JSON, under any namespace), or a
directory of such bags (e.g. the ``--record`` directory of a gym): then every
labelled bag is scored, pooled and per bag, and bags that cannot be scored are
listed and left out.  Every set is replayed causally through the same streaming
stages the nodes run; see :mod:`rep_coach.core.evaluation` for the metric
definitions.  A bag's subject is the station it was recorded at (its namespace,
from metadata.yaml or inferred from its topic names), else the bag's name.
Near failure is RPE >= 8 (RIR <= 2), an assumption of rep_coach.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import json
import logging
import math
from pathlib import Path
import sys
from typing import Any, Dict, List, Optional
import warnings

from rep_coach.bag_names import station_label
from rep_coach.cli.checks import positive_int
from rep_coach.core.evaluation import ASSUMPTION, evaluate
from rep_coach.core.near_failure import BaselineNearFailure
from rep_coach.core.segmentation import BaselineSegmenter
from rep_coach.core.types import ImuRecording

LOG = logging.getLogger(__name__)

#: Exit status: scored.
EXIT_OK = 0
#: Exit status: nothing to score or a bad option (the message names the culprit).
EXIT_BAD_INPUT = 2

EPILOG = """\
exit status: 0 scored (a directory of bags: at least one bag; the others are listed
on stderr and under skipped_bags); 2 nothing to score: DATA missing or neither a
dataset, a bag nor a directory of bags, a bag that cannot be read, is empty, has only
IMU messages (no labels/reps) or no IMU messages, no bag of a directory scorable, no
set left after --subjects/--limit, or --models that do not load
"""


@dataclass
class Inputs:
    """The labelled recordings of ``DATA`` and what was left out."""

    recordings: List[ImuRecording]
    #: ``dataset``, ``bag`` or ``bags`` (a directory of bags).
    kind: str
    #: Bags of a directory that were not scored: name -> why.
    skipped: Dict[str, str] = field(default_factory=dict)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``evaluate`` subcommand."""
    parser = subparsers.add_parser(
        'evaluate', help='score the learned pipeline and the baseline on labelled data',
        description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('data', metavar='DATA', type=Path,
                        help='thomas2025-layout directory, a rosbag2 bag or a directory of bags')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--models', type=Path, default=None,
                        help='directory of the learned models (default: the package models)')
    parser.add_argument('--subjects', nargs='*', default=None,
                        help='only these subjects (thomas2025 codes such as A321; for bags, '
                             'stations or bag names as the output lists them)')
    parser.add_argument('--limit', type=positive_int, default=None,
                        help='only the first N recordings (N >= 1)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.set_defaults(func=run)
    return parser


def is_bag(path: Path) -> bool:
    """Tell whether ``path`` is a rosbag2 bag (a directory with metadata.yaml)."""
    return (path / 'metadata.yaml').is_file()


def load_recordings(path: Path, subjects: Optional[List[str]] = None) -> Inputs:
    """Load labelled recordings from a thomas2025 directory, a bag or a directory of bags.

    Raises ``OSError`` or ``ValueError`` naming the culprit when there is nothing to
    score; in a directory of bags, bags that cannot be scored are only listed in
    :attr:`Inputs.skipped`, unless none can.
    """
    path = Path(path)
    if (path / 'rep_indexes_corrected.txt').is_file():
        from rep_coach.core.thomas2025 import load_dataset
        return Inputs(load_dataset(path, subjects), 'dataset')
    if is_bag(path):
        return Inputs(_only(subjects, [read_labelled_bag(path)]), 'bag')
    if not path.exists():
        raise FileNotFoundError(f'{path}: no such file or directory')
    from rep_coach.bagio import bags_in
    bags = bags_in(path) if path.is_dir() else []
    if not bags and path.suffix == '.mcap':
        raise ValueError(f'{path}: an MCAP file of a bag; name the bag, the directory '
                         f'{path.parent} that holds it with its metadata.yaml')
    if not bags:
        raise ValueError(f'{path}: neither a thomas2025-layout directory '
                         '(rep_indexes_corrected.txt), a rosbag2 bag (metadata.yaml) nor a '
                         'directory of bags')
    inputs = Inputs([], 'bags')
    for bag in bags:
        try:
            inputs.recordings.append(read_labelled_bag(bag))
        except (OSError, ValueError) as exc:
            inputs.skipped[bag.name] = str(exc)
    if not inputs.recordings:
        first = next(iter(inputs.skipped.values()))
        raise ValueError(f'{path}: none of its {len(bags)} bag(s) can be scored '
                         f'(first: {first})')
    inputs.recordings = _only(subjects, inputs.recordings)
    return inputs


def _only(subjects: Optional[List[str]], recordings: List[ImuRecording]) -> List[ImuRecording]:
    """Keep the recordings of ``subjects`` (all when None)."""
    if subjects is None:
        return recordings
    return [r for r in recordings if r.subject in subjects]


def read_labelled_bag(path: Path) -> ImuRecording:
    """Read ``imu/data_raw`` and ``labels/reps`` of a bag into one labelled recording.

    Topics may carry a namespace (``/station3/imu/data_raw``); the one bag reader
    of the package, :func:`rep_coach.core.sources.read_imu_bag`, does the work.  The
    subject is the bag's station (:func:`bag_subject`).  Raises ``ValueError``
    (naming the bag) when it is unreadable or has no labels.
    """
    recording = read_bag_recording(Path(path))
    if not any(s.reps for s in recording.sets):
        topics = recording.meta.get('topics') or []
        raise ValueError(f'{path}: no labels/reps (TrueRep JSON) messages to score against '
                         f'(its topics with messages: {", ".join(topics)})')
    return recording


def read_bag_recording(path: Path) -> ImuRecording:
    """Read a bag's IMU and any labels; the subject is the bag's station.

    Damage the reader recovers from (an unfinished file) is logged as one warning.
    Raises ``ValueError`` naming the bag when it cannot be read or has no IMU messages.
    """
    from rep_coach.bagio import BagError, load_metadata
    from rep_coach.core.sources import read_imu_bag
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        recording = read_imu_bag(path)
    for warning in caught:
        LOG.warning('%s', warning.message)
    try:
        metadata = load_metadata(path)
    except BagError as exc:   # read_imu_bag read it: only a race gets here
        raise ValueError(str(exc)) from None
    recording.subject = bag_subject(path, metadata)
    recording.meta['topics'] = [t.name for t in metadata.topics if t.message_count]
    return recording


def bag_subject(path: Path, metadata: Any) -> str:
    """Return whom a bag's sets belong to: its station (namespace), else the bag's name.

    The namespace is ``custom_data['namespace']``, else inferred from the topic names
    (:func:`rep_coach.topics.recorded_namespace`); ``/gym/station_2`` reads
    ``gym.station_2`` as in the bags' names.  A bag recorded at the root is named by
    its directory.
    """
    from rep_coach.topics import recorded_namespace
    recorded = recorded_namespace(metadata.custom_data, [t.name for t in metadata.topics])
    if recorded.source == 'topics':
        LOG.info('%s: namespace %s inferred from the topic names', path, recorded.name)
    return station_label(recorded.name) or Path(path).resolve().name


def _learned(models: Optional[Path], recordings: List[ImuRecording],
             progress: bool, **breakdown: bool) -> Dict[str, Any]:
    try:
        import rep_coach.learned as learned
        seg_f, clf_f = learned.load_stages(models)
        meta = seg_f().model.meta_json('rep_coach')   # the loaded model's, not a second read
    except Exception as exc:  # absent package, no models, bad model: report, don't fail
        return {'error': f'learned pipeline unavailable: {exc}'}
    result = evaluate(recordings, seg_f, clf_f, progress=progress, **breakdown)
    # Scores on subjects the models learned from are not held out: say so.
    trained = set(meta.get('trained_on_subjects') or ())
    result['in_sample_subjects'] = sorted(trained & {r.subject for r in recordings})
    return result


def run(args: argparse.Namespace) -> int:
    """Evaluate both pipelines; print a table or one JSON object; return the exit code."""
    try:
        inputs = load_recordings(args.data, getattr(args, 'subjects', None))
    except (OSError, ValueError) as exc:
        print(f'rep-coach evaluate: {exc}', file=sys.stderr)
        return EXIT_BAD_INPUT
    for name, reason in inputs.skipped.items():
        print(f'rep-coach evaluate: note: bag {name} not scored: {reason}', file=sys.stderr)
    recordings = inputs.recordings
    if getattr(args, 'limit', None):
        recordings = recordings[:args.limit]
    if not recordings:
        print(f'rep-coach evaluate: {args.data}: no labelled sets', file=sys.stderr)
        return EXIT_BAD_INPUT
    progress = not getattr(args, 'no_progress', False)
    models = getattr(args, 'models', None)
    # Bags: per set, and per bag when there are several (a dataset's sets are its recordings).
    breakdown = {'per_set': inputs.kind != 'dataset', 'per_recording': inputs.kind == 'bags'}
    learned = _learned(models, recordings, progress, **breakdown)
    if models is not None and 'error' in learned:   # asked for these models: no fallback
        print(f'rep-coach evaluate: --models {models}: {learned["error"]}', file=sys.stderr)
        return EXIT_BAD_INPUT
    baseline = evaluate(recordings, BaselineSegmenter, BaselineNearFailure, progress=progress,
                        **breakdown)
    if args.json:
        out = {'learned': None if 'error' in learned else learned, 'baseline': baseline,
               'assumption': ASSUMPTION, 'n_sets': baseline['n_sets']}
        if 'error' in learned:
            out['learned_reason'] = learned['error']
        if inputs.kind == 'bags':
            out['bags'] = [r.name for r in recordings]
            out['skipped_bags'] = inputs.skipped
        print(json.dumps(out, allow_nan=False))
        return EXIT_OK
    print(_table(learned, baseline, baseline['n_sets']))
    return EXIT_OK


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
    lines += _breakdown_lines(learned, baseline)
    if 'error' in learned:
        lines.append(f'learned: {learned["error"]}')
    if learned.get('in_sample_subjects'):
        lines.append(f'note: the learned models were trained on '
                     f'{", ".join(learned["in_sample_subjects"])}, so their scores here are not '
                     'held out (held-out scores: rep-coach train, docs/models.md)')
    return '\n'.join(lines)


#: Breakdowns the table shows (when they have more than one entry): key, column title.
_BREAKDOWNS = (('per_subject', 'subject'), ('per_recording', 'bag'), ('per_set', 'set'))


def _breakdown_lines(learned: Dict[str, Any], baseline: Dict[str, Any]) -> List[str]:
    """Return one line per subject, bag and set: counts, event F1 and rep F1 of both."""
    lines: List[str] = []
    for key, title in _BREAKDOWNS:
        groups = baseline.get(key) or {}
        if len(groups) < 2:
            continue
        width = max(len(title), *(len(name) for name in groups))
        lines.append(f'[{key}] (L = learned, B = baseline; detected reps, event F1, rep F1)')
        lines.append(f'  {title:{width}s} {"sets":>4s} {"reps":>5s} {"det L":>6s} '
                     f'{"det B":>6s} {"evF1 L":>7s} {"evF1 B":>7s} {"repF1 L":>8s} '
                     f'{"repF1 B":>8s}')
        for name, base in groups.items():
            other = (learned.get(key) or {}).get(name, {})
            seg, oseg = base['segmentation'], other.get('segmentation', {})
            lines.append(
                f'  {name:{width}s} {base["n_sets"]:>4d} {seg["n_true_reps"]:>5d} '
                f'{_fmt(oseg.get("n_detected_reps")):>6s} {seg["n_detected_reps"]:>6d} '
                f'{_fmt(oseg.get("event_f1")):>7s} {_fmt(seg["event_f1"]):>7s} '
                f'{_fmt(other.get("near_failure", {}).get("rep_f1")):>8s} '
                f'{_fmt(base["near_failure"]["rep_f1"]):>8s}')
    return lines
