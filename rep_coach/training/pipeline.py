"""
End-to-end training: LOSO cross-validation, final models, export, model cards' numbers.

Hyper-parameters are fixed a priori in :class:`SegTrainConfig` and
:class:`ClfTrainConfig`; the held-out subject of a fold is never seen by that
fold's models (training data, feature statistics, thresholds).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, replace
import json
import logging
from pathlib import Path
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rep_coach.core.evaluation import (aggregate, evaluate, held_out_subjects,
                                       leave_one_subject_out, Replay, replay,
                                       score_recording, SetScore)
from rep_coach.core.near_failure import BaselineNearFailure, BaselineNearFailureConfig
from rep_coach.core.segmentation import BaselineSegmenter
from rep_coach.core.types import ImuRecording
from rep_coach.learned import load_stages
from rep_coach.learned.events import PickerConfig
from rep_coach.training.clf_train import ClfTrainConfig, set_samples, train_classifier
from rep_coach.training.data import Session
from rep_coach.training.export import export_classifier, export_segmenter
from rep_coach.training.models import CausalTCN, n_params
from rep_coach.training.seg_train import SegTrainConfig, train_segmenter
from rep_coach.training.synthetic import sim_sessions
import torch

LOG = logging.getLogger(__name__)


#: Simulated pretraining sessions start at this seed (apart from any --synthetic data).
PRETRAIN_SIM_SEED = 10_000


@dataclass
class TrainConfig:
    """
    Everything a run depends on (with the seed, the run is deterministic).

    The segmenter is an ensemble of ``seg_members`` networks: member ``k`` is
    exactly the network a single-member run with seed ``seed + k`` trains (its own
    simulated pretraining data, pretraining and fine-tuning seeds), so an
    ensemble's members can be compared one by one with single runs.
    """

    seed: int = 0
    seg: SegTrainConfig = field(default_factory=SegTrainConfig)
    clf: ClfTrainConfig = field(default_factory=ClfTrainConfig)
    picker: PickerConfig = field(default_factory=PickerConfig)
    seg_members: int = 3
    pretrain_sim: int = 0          # simulated sessions to pretrain each member on
    pretrain_steps: int = 0
    progress: bool = True
    # Pretrained state dict per member, computed once per run.
    _pretrained: Dict[int, Dict[str, Any]] = field(default_factory=dict)


def member_seed(cfg: TrainConfig, member: int) -> int:
    """Seed of the single-network run whose network is ensemble ``member`` (see TrainConfig)."""
    return cfg.seed + member


def pretrained_init(cfg: TrainConfig, member: int = 0) -> Optional[CausalTCN]:
    """
    Segmenter ``member`` pretrained on simulated sessions (once per run, shared by folds).

    The simulator knows no dataset subject, so sharing it across folds leaks nothing.
    """
    if cfg.pretrain_sim <= 0 or cfg.pretrain_steps <= 0:
        return None
    seed = member_seed(cfg, member)
    if member not in cfg._pretrained:
        sessions = sim_sessions(cfg.pretrain_sim, seed=PRETRAIN_SIM_SEED + seed)
        pre_cfg = replace(cfg.seg, steps=cfg.pretrain_steps)
        model = train_segmenter(sessions, pre_cfg, seed + 100,
                                desc=f'pretrain (sim) {member + 1}/{cfg.seg_members}',
                                progress=cfg.progress)
        cfg._pretrained[member] = copy.deepcopy(model.state_dict())
    model = CausalTCN(cfg.seg.channels, cfg.seg.dilations)
    model.load_state_dict(cfg._pretrained[member])
    return model


def fit_and_export(train: List[Session], cfg: TrainConfig, out_dir: Path,
                   tag: str = '') -> Dict[str, Any]:
    """Train both stages on ``train`` and write the two ONNX files to ``out_dir``."""
    torch.set_num_threads(1)
    tic = time.perf_counter()
    members = [train_segmenter(train, cfg.seg, member_seed(cfg, k) + 1,
                               init=pretrained_init(cfg, k),
                               desc=f'{tag} segmenter {k + 1}/{cfg.seg_members}',
                               progress=cfg.progress)
               for k in range(cfg.seg_members)]
    clf = train_classifier(set_samples(train), cfg.clf, cfg.seed + 2,
                           desc=f'{tag} classifier', progress=cfg.progress)
    subjects = sorted({s.subject or '?' for s in train})
    extra = {'trained_on_subjects': subjects, 'seed': cfg.seed,
             'sim_pretrain_steps': cfg.pretrain_steps if cfg.pretrain_sim else 0}
    export_segmenter(members, out_dir / 'segmenter.onnx', asdict(cfg.picker), extra)
    export_classifier(clf, out_dir / 'near_failure.onnx', cfg.clf.threshold, extra)
    return {'segmenter_params': sum(n_params(m) for m in members),
            'segmenter_members': len(members), 'classifier_params': n_params(clf),
            'train_s': round(time.perf_counter() - tic, 1), 'subjects': subjects}


def run_loso(sessions: List[Session], cfg: TrainConfig, work_dir: Path) -> Dict[str, Any]:
    """Leave-one-subject-out through the streaming evaluation harness."""
    by_name = {s.name: s for s in sessions}
    recordings = [s.recording for s in sessions]
    info: Dict[str, Any] = {}

    def fit(train_recs):
        train = [by_name[r.name] for r in train_recs]
        held = held_out_subjects(recordings, train_recs)
        fold_dir = work_dir / f'fold_{"_".join(held)}'
        fold = fit_and_export(train, cfg, fold_dir, tag=f'fold {held}')
        info[','.join(held)] = fold
        LOG.info('fold %s held out: trained on %d sets of %s in %.0f s -> %s',
                 ','.join(held), len(train), ','.join(fold['subjects']), fold['train_s'],
                 fold_dir)
        return load_stages(fold_dir)

    result = leave_one_subject_out(recordings, fit)
    result['folds'] = info
    return result


def evaluate_baseline(sessions: List[Session]) -> Dict[str, Any]:
    """
    Score the shipped signal-processing baseline through the same harness.

    Its one fitted parameter, ``loss_center``, was chosen with every subject of the
    shared data, so on that data these near-failure numbers are not held out: see
    :func:`evaluate_baseline_loso` for the like-for-like comparison.
    """
    return evaluate([s.recording for s in sessions], BaselineSegmenter, BaselineNearFailure)


#: ``loss_center`` values the held-out baseline chooses from (velocity loss, fraction).
BASELINE_CENTRES = (0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.3)


def evaluate_baseline_loso(sessions: List[Session],
                           centres: Sequence[float] = BASELINE_CENTRES) -> Dict[str, Any]:
    """
    Score the baseline held out, like the learned stages.

    Each fold gives the rule the ``loss_center`` (of ``centres``) with the best pooled
    near-failure rep F1 on its training subjects, through the same harness, and
    scores the held-out subject with it; the segmenter has no fitted parameter.
    ``centres`` in the result names each held-out subject's choice.
    """
    recordings = [s.recording for s in sessions]
    # The segmenter has nothing to choose: replay it once per recording, then run each
    # centre's rule over its reps (the rule's state depends on the reps alone).
    events = {rec.name: replay(rec, BaselineSegmenter(), None).events for rec in recordings}
    scores: Dict[Tuple[float, str], List[SetScore]] = {}

    def config(centre: float) -> BaselineNearFailureConfig:
        return BaselineNearFailureConfig(loss_center=centre)

    def set_scores(centre: float, rec: ImuRecording) -> List[SetScore]:
        if (centre, rec.name) not in scores:
            rule = BaselineNearFailure(config(centre))
            reps = events[rec.name]
            scores[centre, rec.name] = score_recording(
                rec, Replay(reps, [rule.on_rep(e) for e in reps]))
        return scores[centre, rec.name]

    def training_f1(centre: float, train: List[ImuRecording]) -> float:
        pooled = [x for rec in train for x in set_scores(centre, rec)]
        f1 = aggregate(pooled)['near_failure']['rep_f1']
        return f1 if f1 is not None else -1.0

    chosen: Dict[str, float] = {}

    def fit(train: List[ImuRecording]):
        best = max(centres, key=lambda c: training_f1(c, train))   # first of equals
        chosen[','.join(held_out_subjects(recordings, train))] = best
        return BaselineSegmenter, lambda: BaselineNearFailure(config(best))

    result = leave_one_subject_out(recordings, fit)
    result['centres'] = chosen
    return result


def write_json(path: Path, data: Dict[str, Any]) -> None:
    """Write a JSON report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str) + '\n')
