"""
Draw one replay: a stage's signals, true and detected reps, near failure.

Matplotlib with the Agg backend (no display needed); used by ``rep-coach plot``.
What a segmenter looks at differs between pipelines (the baseline's high-passed
principal-axis angle, the learned network's inputs and output), so the caller
passes its signals as :class:`Panel` s of :class:`Trace` s; the reps, the
decisions and the near-failure panel below them are drawn the same for every
pipeline by :func:`plot_replay`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from rep_coach.core.evaluation import NEAR_FAILURE_RPE, Replay
from rep_coach.core.types import ImuRecording, RepLabel

#: Legend font size; legends sit right of the panels so they never cover data.
LEGEND_FONT = 8
#: Colour of detected rep ends and of the decision markers.
DETECTED = 'tab:orange'


@dataclass(frozen=True)
class Trace:
    """One named series of a panel, in the recording's own times (s)."""

    label: str
    t: np.ndarray
    y: np.ndarray
    colour: str = 'tab:blue'
    width: float = 0.9
    style: str = '-'              # matplotlib line style; '' for markers only
    marker: str = ''              # matplotlib marker, '' for none
    alpha: float = 1.0


@dataclass(frozen=True)
class Level:
    """A horizontal reference line of a panel (a threshold, a clip level)."""

    value: float
    label: str
    colour: str = 'tab:gray'
    style: str = ':'


@dataclass(frozen=True)
class Panel:
    """One signal panel: its y label (quantity and unit) and what is drawn on it."""

    ylabel: str
    traces: Sequence[Trace]
    levels: Sequence[Level] = ()
    ylim: Optional[Tuple[float, float]] = None
    #: Mark each decision (the stamp of a detected rep) on the first trace.
    decisions: bool = False
    height: float = 2.0


def plot_replay(recording: ImuRecording, result: Replay, panels: Sequence[Panel], out: Path,
                title: str, window: Optional[Tuple[float, float]] = None,
                threshold: float = 0.5) -> Path:
    """
    Write a PNG of ``recording``: ``panels`` above the near-failure panel of ``result``.

    Every signal panel shows the true reps (shaded, red if RPE >= 8, a black line
    at their end) and the detected rep ends (orange dashes).  Time is drawn in
    seconds since the recording's first sample (a bag's stamps are epoch times);
    ``window`` (in the recording's own times) limits the x axis, e.g. to one set;
    ``threshold`` is the probability at which a rep is called near failure.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    t0 = float(recording.imu.t[0]) if len(recording.imu) else 0.0
    reps: Sequence[RepLabel] = [r for s in recording.sets for r in s.reps]
    heights = [p.height for p in panels] + [1.4]
    fig, axes = plt.subplots(len(heights), 1, figsize=(14, 1.3 + 1.6 * sum(heights)),
                             sharex=True, gridspec_kw={'height_ratios': heights})
    for ax, panel in zip(axes, panels):
        _draw_panel(ax, panel, reps, result, t0)
    _label_reps(axes[0], reps, window, t0)
    # What the shading and the dashes mean is said once, on the first panel.
    handles, _ = axes[0].get_legend_handles_labels()
    if reps:
        handles.append(_key(plt, color='k', lw=0.8,
                            label=f'true rep end (shaded: true rep, red if RPE >= '
                                  f'{NEAR_FAILURE_RPE:g})'))
    handles.append(_key(plt, color=DETECTED, ls='--', label='detected rep end'))
    if any(p.decisions for p in panels):
        handles.append(_key(plt, color=DETECTED, ls='', marker='v',
                            label='decision (stamp - end = cue delay)'))
    _legend(axes[0], handles)
    for ax in axes[1:len(panels)]:
        _legend(ax)
    ax_p = axes[-1]
    _draw_near_failure(ax_p, recording, result, reps, threshold, t0)
    ax_p.set_xlabel(f'time since the first sample (s){_epoch_note(t0)}')
    if window is not None:
        ax_p.set_xlim(window[0] - t0, window[1] - t0)
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _draw_panel(ax, panel: Panel, reps: Sequence[RepLabel], result: Replay, t0: float) -> None:
    for trace in panel.traces:
        ax.plot(trace.t - t0, trace.y, lw=trace.width, ls=trace.style or 'None',
                marker=trace.marker or None, color=trace.colour, alpha=trace.alpha,
                label=trace.label)
    for level in panel.levels:
        ax.axhline(level.value, color=level.colour, lw=0.8, ls=level.style, label=level.label)
    for rep in reps:
        colour = 'tab:red' if _is_near_failure(rep) else 'tab:green'
        ax.axvspan(rep.start - t0, rep.end - t0, color=colour, alpha=0.07, lw=0)
        ax.axvline(rep.end - t0, color='k', lw=0.8, alpha=0.6)
    for event in result.events:
        ax.axvline(event.end - t0, color=DETECTED, lw=1.2, ls='--')
    if panel.decisions and panel.traces:
        first = panel.traces[0]
        stamps = np.array([e.stamp for e in result.events])
        if stamps.size and first.t.size:
            ax.plot(stamps - t0, np.interp(stamps, first.t, first.y), ls='None', marker='v',
                    color=DETECTED, ms=5)
    if panel.ylim is not None:
        ax.set_ylim(*panel.ylim)
    ax.set_ylabel(panel.ylabel)


def _label_reps(ax, reps: Sequence[RepLabel], window: Optional[Tuple[float, float]],
                t0: float) -> None:
    """Write each true rep's RPE above the top panel (only those in ``window``)."""
    for rep in reps:
        middle = (rep.start + rep.end) / 2
        if rep.rpe is not None and (window is None or window[0] <= middle <= window[1]):
            ax.text(middle - t0, 1.0, f'RPE {rep.rpe:g}', ha='center', va='bottom', fontsize=7,
                    transform=ax.get_xaxis_transform())


def _draw_near_failure(ax, recording: ImuRecording, result: Replay, reps: Sequence[RepLabel],
                       threshold: float, t0: float) -> None:
    if result.states:
        st = np.array([s.stamp for s in result.states]) - t0
        pr = np.array([s.probability for s in result.states])
        end = float(recording.imu.t[-1]) - t0 if len(recording.imu) else st[-1]
        ax.step(np.append(st, end), np.append(pr, pr[-1]), where='post', color='tab:red',
                label='p(near failure), after each detected rep')
        ax.plot(st, pr, 'o', color='tab:red', ms=3)
    ax.axhline(threshold, color='tab:red', lw=0.8, ls=':', label=f'threshold {threshold:g}')
    truth_t: List[float] = []
    truth_v: List[float] = []
    for rep in reps:
        if rep.rpe is not None:
            truth_t += [rep.start - t0, rep.end - t0]
            truth_v += [float(_is_near_failure(rep))] * 2
    if truth_t:
        ax.fill_between(truth_t, 0, truth_v, color='tab:gray', alpha=0.25, step='pre',
                        label=f'true RPE >= {NEAR_FAILURE_RPE:g}')
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel('p(near failure)')
    _legend(ax)


def _is_near_failure(rep: RepLabel) -> bool:
    return rep.rpe is not None and rep.rpe >= NEAR_FAILURE_RPE


def _key(plt, **line: object):
    """Make one legend entry for something drawn many times (not one per rep)."""
    return plt.Line2D([], [], **line)


def _legend(ax, handles: Optional[list] = None) -> None:
    # Outside the axes, to the right: a legend inside would hide reps on a long set.
    kwargs = {} if handles is None else {'handles': handles}
    ax.legend(loc='upper left', bbox_to_anchor=(1.005, 1.0), fontsize=LEGEND_FONT,
              borderaxespad=0.0, frameon=False, **kwargs)


def _epoch_note(t0: float) -> str:
    """Say when the first sample was, if its stamp is a date (a bag's epoch times)."""
    if t0 < 1e9:   # before 2001: a recording's own clock, not a date
        return ''
    from datetime import datetime, timezone
    try:
        when = datetime.fromtimestamp(t0, timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')
    except (ValueError, OverflowError, OSError):
        # Past year 9999 (a CSV's stamps can be any number): no date, so no note.
        return ''
    return f', first sample at {when}'
