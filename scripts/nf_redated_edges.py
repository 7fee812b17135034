#!/usr/bin/env python3
"""
Experiment (session 13, not adopted): train stage 2 on the set edges a live segmenter gives.

thomas2025 places a set's first start and last end by where the recording starts and
stops (:mod:`rep_coach.training.label_convention`), so the classifier's training reps
at a set's edges carry up to seconds of rest that the live segmenter's reps never
have.  This script re-dates them where the convention would have put them had the set
gone on (first start: the end of the rest before the first lift less half the set's
bottom pause; last end: the arm at rest plus half a pause), retrains the classifier of
every fold of a ``rep-coach train`` run with the run's own settings and seed, and
scores it leave-one-subject-out with that fold's segmenter.  ``--control`` skips the
re-dating and reproduces the run's own classifiers.  Results and their reading:
docs/models.md, stage 2.

Run (the fold models come from ``rep-coach train --work-dir DIR``; about 4 min)::

    .venv/bin/python scripts/nf_redated_edges.py --folds DIR [--seed S] [--control] [--members N]

``--members 3`` trains three classifiers per fold (seeds S+2..S+4; the first is the
run's) and scores each and their mean probability (session 14; 12 min).
"""

from __future__ import annotations

import copy
from dataclasses import replace
import json
import logging
from pathlib import Path
import shutil
import sys
import tempfile
from typing import List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fold_experiments import fold_parser  # noqa: E402 (this script's directory)
import numpy as np  # noqa: E402
from rep_coach.core.evaluation import (aggregate, Replay, replay,  # noqa: E402
                                       score_recording)
from rep_coach.core.thomas2025 import read_rep_indexes, REP_INDEX_FILE  # noqa: E402
from rep_coach.core.types import ImuRecording  # noqa: E402
import rep_coach.learned as learned  # noqa: E402
from rep_coach.training.clf_train import (ClfTrainConfig, set_samples,  # noqa: E402
                                          train_classifier)
from rep_coach.training.data import load_thomas2025, Session  # noqa: E402
from rep_coach.training.export import export_classifier  # noqa: E402
from rep_coach.training.label_convention import check_recording  # noqa: E402
import torch  # noqa: E402


def redated(sessions: List[Session], data: Path) -> List[Session]:
    """Return copies of ``sessions`` with the recording-placed set edges where live ones fall."""
    indexes = read_rep_indexes(data / REP_INDEX_FILE)
    out = []
    for sess in sessions:
        rec = sess.recording
        check = check_recording(rec, indexes[rec.name].boundaries)
        t = rec.imu.t
        reps = list(sess.sets[0])
        lift, at_rest = t[check.live_first_start()], t[check.live_last_end()]
        # Never past the rep's top: the edge moves within the rest, not into the lift.
        reps[0] = replace(reps[0], start=max(reps[0].start, min(float(lift), reps[0].peak)))
        reps[-1] = replace(reps[-1], end=min(reps[-1].end, max(float(at_rest), reps[-1].peak)))
        moved = copy.copy(sess)
        moved.sets = [reps]
        out.append(moved)
    return out


def mean_probability(replays: List[Replay], threshold: float) -> Replay:
    """
    Average the members' near-failure probabilities per rep (same segmenter, same reps).

    The RIR estimate has no average here: the states carry only each member's class.
    """
    first = replays[0]
    states = []
    for j, state in enumerate(first.states):
        p = float(np.mean([r.states[j].probability for r in replays]))
        states.append(replace(state, probability=p, near_failure=p >= threshold, rir=None))
    return Replay(first.events, states)


def main() -> int:
    """Retrain and score the folds' classifiers; print the pooled metrics as JSON."""
    parser = fold_parser(__doc__)
    parser.add_argument('--seed', type=int, default=0, help="the run's --seed")
    parser.add_argument('--control', action='store_true',
                        help='train on the labelled edges (reproduces the run)')
    parser.add_argument('--members', type=int, default=1,
                        help='classifiers per fold, seeds S+2, S+3, ... (member 0 is the '
                             "run's); with more than one, each member and their mean "
                             'probability are scored')
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(1)
    sessions = load_thomas2025(args.data)
    train_on = sessions if args.control else redated(sessions, args.data)
    cfg = ClfTrainConfig()
    # Per member, the (recording, replay) of every held-out set.
    replays: List[List[Tuple[ImuRecording, Replay]]] = [[] for _ in range(args.members)]
    with tempfile.TemporaryDirectory() as tmp:
        for held in sorted({s.subject for s in sessions}):
            train = [s for s in train_on if s.subject != held]
            samples = set_samples(train)
            for k in range(args.members):
                # The pipeline's classifier seed for a run of --seed S (fit_and_export).
                clf = train_classifier(samples, cfg, args.seed + 2 + k, progress=False)
                fold = Path(tmp) / f'{held}_{k}'
                fold.mkdir()
                shutil.copy(args.folds / f'fold_{held}' / 'segmenter.onnx', fold)
                export_classifier(clf, fold / 'near_failure.onnx', cfg.threshold,
                                  {'trained_on_subjects': sorted({s.subject for s in train}),
                                   'seed': args.seed})
                seg_f, clf_f = learned.load_stages(fold)
                replays[k] += [(s.recording, replay(s.recording, seg_f(), clf_f()))
                               for s in sessions if s.subject == held]

    def pooled(results: List[Tuple[ImuRecording, Replay]]) -> dict:
        scores = [x for rec, result in results for x in score_recording(rec, result)]
        return aggregate(scores)['near_failure']

    if args.members == 1:
        print(json.dumps(pooled(replays[0]), indent=2))
        return 0
    mean = [(rec, mean_probability([m[i][1] for m in replays], cfg.threshold))
            for i, (rec, _) in enumerate(replays[0])]
    print(json.dumps({'members': [pooled(m) for m in replays], 'mean': pooled(mean)},
                     indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
