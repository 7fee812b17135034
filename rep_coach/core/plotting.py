"""Draw one labelled set: principal-axis rate and angle, true and detected reps, near failure.

Matplotlib with the Agg backend (no display needed); used by ``rep-coach plot``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from rep_coach.core.evaluation import NEAR_FAILURE_RPE, Replay
from rep_coach.core.types import ImuRecording, RepLabel


def plot_replay(recording: ImuRecording, result: Replay, t: np.ndarray, theta: np.ndarray,
                omega: np.ndarray, out: Path, title: Optional[str] = None) -> Path:
    """Write a PNG of ``recording`` with the baseline's signals and the replay's decisions.

    ``t``/``theta``/``omega`` are the 100 Hz principal-axis angle and rate (NaN
    where the axis was not yet known).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    reps: Sequence[RepLabel] = [r for s in recording.sets for r in s.reps]
    fig, axes = plt.subplots(3, 1, figsize=(13, 8), sharex=True,
                             gridspec_kw={'height_ratios': [2, 2, 1.3]})
    ax_w, ax_a, ax_p = axes
    ax_w.plot(t, omega, lw=0.8, color='tab:blue', label='omega (principal axis)')
    ax_w.set_ylabel('rad/s')
    ax_a.plot(t, theta, lw=1.0, color='tab:purple', label='angle (high-passed)')
    ax_a.set_ylabel('rad')
    for rep in reps:
        colour = 'tab:red' if rep.rpe is not None and rep.rpe >= NEAR_FAILURE_RPE else 'tab:green'
        for ax in (ax_w, ax_a):
            ax.axvspan(rep.start, rep.end, color=colour, alpha=0.07, lw=0)
            ax.axvline(rep.end, color='k', lw=0.8, alpha=0.6)
        if rep.rpe is not None:
            ax_a.text((rep.start + rep.end) / 2, 1.0, f'RPE {rep.rpe:g}', ha='center', va='bottom',
                      fontsize=7, transform=ax_a.get_xaxis_transform())
    for event in result.events:
        for ax in (ax_w, ax_a):
            ax.axvline(event.end, color='tab:orange', lw=1.2, ls='--')
        ax_a.plot([event.stamp], [np.interp(event.stamp, t, theta) if t.size else 0.0],
                  marker='v', color='tab:orange', ms=5)
    ax_a.plot([], [], color='k', lw=0.8, label='true rep end')
    ax_a.plot([], [], color='tab:orange', ls='--', label='detected rep end (v: decision)')
    ax_a.legend(loc='lower left', fontsize=8, ncol=3)
    ax_w.legend(loc='lower left', fontsize=8)
    if result.states:
        st = np.array([s.stamp for s in result.states])
        pr = np.array([s.probability for s in result.states])
        end = float(recording.imu.t[-1]) if len(recording.imu) else st[-1]
        ax_p.step(np.append(st, end), np.append(pr, pr[-1]), where='post', color='tab:red',
                  label='near-failure probability')
        ax_p.plot(st, pr, 'o', color='tab:red', ms=3)
    truth_t, truth_v = [], []
    for rep in reps:
        if rep.rpe is not None:
            truth_t += [rep.start, rep.end]
            truth_v += [float(rep.rpe >= NEAR_FAILURE_RPE)] * 2
    if truth_t:
        ax_p.fill_between(truth_t, 0, truth_v, color='tab:gray', alpha=0.25, step='pre',
                          label=f'true RPE >= {NEAR_FAILURE_RPE:g}')
    ax_p.set_ylim(-0.05, 1.05)
    ax_p.set_ylabel('p(near failure)')
    ax_p.set_xlabel('time (s)')
    ax_p.legend(loc='upper left', fontsize=8)
    fig.suptitle(title or f'{recording.name}: detected reps and p(near failure) of the baseline '
                 'stages')
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
