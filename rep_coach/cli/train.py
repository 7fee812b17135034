r"""
``rep-coach train``: LOSO cross-validation, final models, ONNX export, reference.

Example (the command that produced ``models/``)::

    rep-coach train --data ../shared/data/thomas2025 --out models --seed 0 \
        --pretrain-sim 20 --pretrain-steps 400

Folds write ``<work-dir>/fold_<subject>/*.onnx``; the final models (all subjects)
go to ``--out`` (default ``<work-dir>/final``: the shipped ``models/`` are replaced
only when named, as above); a JSON report with per-fold and pooled held-out metrics of the
learned stages and of the baseline (as shipped, and held out: its centre chosen per fold)
goes to ``--report``.

The published-size reference, both stages per fold, as in ``docs/models.md``
(segmenters about 45 min, classifiers about 30 min on two cores)::

    rep-coach train --no-loso --no-final --reference --reference-steps 2500
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
import sys
from typing import Any, Dict, Optional

from rep_coach.cli.checks import directory_problem, fail, missing_extra

LOG = logging.getLogger('rep_coach.train')
_DEFAULT_DATA = Path(__file__).resolve().parents[3] / 'shared' / 'data' / 'thomas2025'

#: What run returns, as --help says.
EPILOG = """\
exit status: 0 trained and the report written; 2 nothing trained: a bad option, the
train extra missing, --data not a readable thomas2025-layout directory, or --out,
--work-dir or --report's directory that cannot be created or written (the message
names it)
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand."""
    p = subparsers.add_parser('train', help='train the learned segmenter and classifier',
                              description=__doc__, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', type=Path, default=_DEFAULT_DATA,
                   help='thomas2025-layout directory (default: %(default)s)')
    p.add_argument('--synthetic', type=int, default=0, metavar='N',
                   help='train on N simulated sessions instead of --data (smoke runs)')
    p.add_argument('--out', type=Path, default=None,
                   help='where the final segmenter.onnx / near_failure.onnx go (default: '
                        '<work-dir>/final; name models/ to replace the shipped ones)')
    p.add_argument('--work-dir', type=Path, default=None,
                   help='fold models and report (default: <cache>/train)')
    p.add_argument('--report', type=Path, default=None,
                   help='JSON report path (default: <work-dir>/report.json)')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the weights, batches, augmentation and --synthetic sessions: '
                        'the same seed trains the same models (default 0)')
    p.add_argument('--seg-steps', type=int, default=None, help='segmenter training steps')
    p.add_argument('--clf-steps', type=int, default=None, help='classifier training steps')
    p.add_argument('--pretrain-sim', type=int, default=0, metavar='N',
                   help='pretrain the segmenter on N simulated sessions first')
    p.add_argument('--pretrain-steps', type=int, default=300,
                   help='segmenter training steps of the --pretrain-sim pretraining '
                        '(default 300)')
    p.add_argument('--seg-members', type=int, default=3, metavar='K',
                   help='segmenter ensemble size: member k is what --seg-members 1 '
                        '--seed SEED+k trains (default 3)')
    p.add_argument('--no-loso', action='store_true', help='skip cross-validation')
    p.add_argument('--no-final', action='store_true', help='skip the all-subject model')
    p.add_argument('--reference', action='store_true',
                   help='also train and evaluate the published-size reference (LOSO)')
    p.add_argument('--reference-steps', type=int, default=60,
                   help='reference segmenter training steps per fold (16 windows each)')
    p.add_argument('--reference-epochs', type=int, default=None, metavar='N',
                   help='reference classifier passes over the training windows per fold '
                        '(0: segmenter only; default: CLF_EPOCHS in '
                        'rep_coach/training/reference.py)')
    p.add_argument('--reference-reuse', action='store_true',
                   help='reuse the fold segmenters an earlier --reference run left in the '
                        'work dir when trained with the same steps, seed and sets')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    return p


def run(args: argparse.Namespace) -> int:
    """Run the training; return the process exit code."""
    if args.seg_members < 1:
        return fail('train', '--seg-members must be at least 1')
    for name in ('reference_epochs', 'seg_steps', 'clf_steps', 'synthetic', 'pretrain_sim',
                 'pretrain_steps', 'reference_steps'):
        value = getattr(args, name)
        if value is not None and value < 0:
            return fail('train', f"--{name.replace('_', '-')} must be 0 or more, got {value}")
    if not args.synthetic and not args.data.is_dir():
        return fail('train', f'data directory {args.data} not found')
    try:
        import torch

        from rep_coach.core.thomas2025 import DatasetError
        from rep_coach.training.data import default_cache_dir, load_thomas2025
        from rep_coach.training.pipeline import (evaluate_baseline, evaluate_baseline_loso,
                                                 fit_and_export, run_loso, TrainConfig,
                                                 write_json)
        from rep_coach.training.synthetic import sim_sessions
    except ImportError as exc:
        return missing_extra('train', exc, 'train')
    work = args.work_dir or default_cache_dir() / 'train'
    out = args.out or work / 'final'
    path = args.report or work / 'report.json'
    # Checked before the hour of training that would otherwise end in a traceback.
    problem = _output_problem(work, None if args.no_final else out, path)
    if problem:
        return fail('train', problem)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)
    cfg = TrainConfig(seed=args.seed, seg_members=args.seg_members,
                      progress=not args.no_progress)
    if args.seg_steps is not None:
        cfg.seg.steps = args.seg_steps
    if args.clf_steps is not None:
        cfg.clf.steps = args.clf_steps
    if args.synthetic:
        sessions = sim_sessions(args.synthetic, seed=args.seed, pseudo_subjects=2)
    else:
        try:
            sessions = load_thomas2025(args.data)
        except (DatasetError, OSError) as exc:   # OSError: a file it cannot read
            return fail('train', str(exc))
    subjects = sorted({s.subject or '?' for s in sessions})
    if (not args.no_loso or args.reference) and len(subjects) < 2:
        # Each fold trains on the other subjects: with one there is nothing to train on.
        source = f'--synthetic {args.synthetic}' if args.synthetic else str(args.data)
        return fail('train', f'leave-one-subject-out needs two subjects or more; {source} '
                    f'has {len(subjects)} ({", ".join(subjects) or "no sets"}): add --no-loso '
                    '(and leave out --reference), or give more data')
    if args.pretrain_sim:
        cfg.pretrain_sim = args.pretrain_sim
        cfg.pretrain_steps = args.pretrain_steps
    report: Dict[str, Any] = {'command': ' '.join(sys.argv), 'seed': args.seed,
                              'n_sets': len(sessions),
                              'assumption': 'near failure = RPE >= 8 (RIR <= 2)'}
    if not args.no_loso:
        LOG.info('LOSO cross-validation over %d sets', len(sessions))
        report['loso'] = run_loso(sessions, cfg, work)
        report['baseline'] = evaluate_baseline(sessions)
        report['baseline_loso'] = evaluate_baseline_loso(sessions)
        _summary(report['loso'], report['baseline_loso'])
    if not args.no_final:
        LOG.info('final models on all %d sets -> %s', len(sessions), out)
        report['final'] = fit_and_export(sessions, cfg, out, tag='final')
    if args.reference:
        from rep_coach.training.reference import CLF_EPOCHS, run_reference_loso
        epochs = CLF_EPOCHS if args.reference_epochs is None else args.reference_epochs
        report['reference'] = run_reference_loso(sessions, args.reference_steps, args.seed,
                                                 work / 'reference', cfg.progress, epochs,
                                                 args.reference_reuse)
    write_json(path, report)
    LOG.info('report: %s', path)
    return 0


def _output_problem(work: Path, out: Optional[Path], report: Path) -> Optional[str]:
    """Return why the work dir, ``out`` (None: not written) or the report cannot be written."""
    for option, directory in (('--work-dir', work), ('--out', out),
                              ("--report's directory", report.parent)):
        problem = None if directory is None else directory_problem(directory)
        if problem:
            return f'{option} {directory}: {problem}'
    if report.is_dir():
        return f'--report {report} is a directory; name a file, e.g. {report / "report.json"}'
    return None


def _summary(loso: Dict[str, Any], base: Dict[str, Any]) -> None:
    keys = [('segmentation', k) for k in ('sample_f1', 'event_f1', 'count_mae',
                                          'cue_delay_p50_s')]
    keys += [('near_failure', k) for k in ('rep_f1', 'window_f1')]
    rows = {f'{a}.{k}': (loso[a].get(k), base[a].get(k)) for a, k in keys}
    LOG.info('held-out (learned, baseline with its centre chosen per fold): %s',
             json.dumps(rows))
