"""Synthetic sessions from the simulator, for pretraining and for fast tests."""

from __future__ import annotations

from typing import List

from rep_coach.training.data import Session, session_from_recording


def sim_sessions(n: int, seed: int = 1000, sets: int = 2, pseudo_subjects: int = 0,
                 **options) -> List[Session]:
    """
    ``n`` simulated biceps-curl sessions of ``sets`` sets to failure each.

    Seeds start at ``seed`` so pretraining data never coincides with the seeds the
    demo or the tests use by default.  ``pseudo_subjects`` k > 0 names session i's
    subject ``sim{i % k}``, so leave-one-subject-out has folds.
    """
    from rep_coach.core.sim import simulate
    from rep_coach.core.sim.config import SimConfig
    out = []
    for i in range(n):
        rec = simulate(SimConfig(seed=seed + i, sets=sets, **options))
        sess = session_from_recording(rec)
        sess.name = f'{rec.name}_{i}'
        rec.name = sess.name
        if pseudo_subjects > 0:
            sess.subject = rec.subject = f'sim{i % pseudo_subjects}'
        out.append(sess)
    return out
