"""Draw one labelled set: principal-axis rate and angle, true and detected reps, near failure.

Matplotlib with the Agg backend (no display needed); used by ``rep-coach plot``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np

from rep_coach.core.evaluation import NEAR_FAILURE_RPE, Replay
from rep_coach.core.types import ImuRecording, RepLabel


def plot_replay(recording: ImuRecording, result: Replay, t: np.ndarray, theta: np.ndarray,
                omega: np.ndarray, out: Path, title: Optional[str] = None,
                window: Optional[Tuple[float, float]] = None, threshold: float = 0.5) -> Path:
    """Write a PNG of ``recording`` with the baseline's signals and the replay's decisions.

    ``t``/``theta``/``omega`` are the 100 Hz principal-axis angle and rate (NaN
    where the axis was not yet known).  Time is drawn in seconds since the
    recording's first sample (a bag's stamps are epoch times); ``window`` (in the
    recording's own times) limits the x axis, e.g. to one set; ``threshold`` is the
    probability at which a rep is called near failure.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    t0 = float(recording.imu.t[0]) if len(recording.imu) else 0.0
    reps: Sequence[RepLabel] = [r for s in recording.sets for r in s.reps]
    fig, axes = plt.subplots(3, 1, figsize=(13, 8), sharex=True,
                             gridspec_kw={'height_ratios': [2, 2, 1.3]})
    ax_w, ax_a, ax_p = axes
    ax_w.plot(t - t0, omega, lw=0.8, color='tab:blue', label='gyro about the principal axis')
    ax_w.set_ylabel('angular rate (rad/s)')
    ax_a.plot(t - t0, theta, lw=1.0, color='tab:purple', label='rotation angle (high-passed)')
    ax_a.set_ylabel('forearm angle (rad)')
    for rep in reps:
        colour = 'tab:red' if rep.rpe is not None and rep.rpe >= NEAR_FAILURE_RPE else 'tab:green'
        for ax in (ax_w, ax_a):
            ax.axvspan(rep.start - t0, rep.end - t0, color=colour, alpha=0.07, lw=0)
            ax.axvline(rep.end - t0, color='k', lw=0.8, alpha=0.6)
        middle = (rep.start + rep.end) / 2
        if rep.rpe is not None and (window is None or window[0] <= middle <= window[1]):
            ax_a.text(middle - t0, 1.0, f'RPE {rep.rpe:g}', ha='center', va='bottom',
                      fontsize=7, transform=ax_a.get_xaxis_transform())
    for event in result.events:
        for ax in (ax_w, ax_a):
            ax.axvline(event.end - t0, color='tab:orange', lw=1.2, ls='--')
        ax_a.plot([event.stamp - t0], [np.interp(event.stamp, t, theta) if t.size else 0.0],
                  marker='v', color='tab:orange', ms=5)
    if reps:
        ax_a.plot([], [], color='k', lw=0.8, label='true rep end (shaded: true rep, red if '
                                                   f'RPE >= {NEAR_FAILURE_RPE:g})')
    ax_a.plot([], [], color='tab:orange', ls='--', label='detected rep end (v: decision)')
    ax_a.legend(loc='lower left', fontsize=8, ncol=3)
    ax_w.legend(loc='lower left', fontsize=8)
    if result.states:
        st = np.array([s.stamp for s in result.states]) - t0
        pr = np.array([s.probability for s in result.states])
        end = float(recording.imu.t[-1]) - t0 if len(recording.imu) else st[-1]
        ax_p.step(np.append(st, end), np.append(pr, pr[-1]), where='post', color='tab:red',
                  label='near-failure probability (after each detected rep)')
        ax_p.plot(st, pr, 'o', color='tab:red', ms=3)
    ax_p.axhline(threshold, color='tab:red', lw=0.8, ls=':', label=f'threshold {threshold:g}')
    truth_t, truth_v = [], []
    for rep in reps:
        if rep.rpe is not None:
            truth_t += [rep.start - t0, rep.end - t0]
            truth_v += [float(rep.rpe >= NEAR_FAILURE_RPE)] * 2
    if truth_t:
        ax_p.fill_between(truth_t, 0, truth_v, color='tab:gray', alpha=0.25, step='pre',
                          label=f'true RPE >= {NEAR_FAILURE_RPE:g}')
    ax_p.set_ylim(-0.05, 1.05)
    ax_p.set_ylabel('p(near failure)')
    ax_p.set_xlabel(f'time since the first sample (s){_epoch_note(t0)}')
    ax_p.legend(loc='upper left', fontsize=8)
    if window is not None:
        ax_p.set_xlim(window[0] - t0, window[1] - t0)
    fig.suptitle(title or f'{recording.name}: detected reps and p(near failure) of the baseline '
                 'stages')
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _epoch_note(t0: float) -> str:
    """Say when the first sample was, if its stamp is a date (a bag's epoch times)."""
    if t0 < 1e9:   # before 2001: a recording's own clock, not a date
        return ''
    from datetime import datetime, timezone
    when = datetime.fromtimestamp(t0, timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')
    return f', first sample at {when}'
