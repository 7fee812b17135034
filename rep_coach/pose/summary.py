"""
A coach's summary of a judged clip: which faults, in which frames, times and reps.

Works on the JSON-ready dicts of :meth:`FrameVerdict.to_dict` and
:meth:`RepVerdict.to_dict` (what ``rep-coach form --json`` prints), so a saved
``--json`` output can be summarised the same way.  A fault judged on frames is
reported as its runs of consecutive frames, e.g. ``knees caving: frames 120-180
(4.0-6.0 s, rep 2)``; a fault judged once per rep (depth, lockout) by its reps.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Sequence

#: Runs listed per fault before the rest are only counted.
MAX_SPANS = 6


@dataclass
class FaultSpan:
    """Consecutive frames (by frame index) in which one fault was active."""

    first: int
    last: int
    t_start: float
    t_end: float

    @property
    def frames(self) -> int:
        """Return the number of frames in the run."""
        return self.last - self.first + 1


def fault_name(fault: str) -> str:
    """Return the words of a fault id (``knees_caving`` -> ``knees caving``)."""
    return fault.replace('_', ' ')


def fault_spans(frames: Sequence[dict]) -> Dict[str, List[FaultSpan]]:
    """Return each frame fault's runs of consecutive frames, faults in order of appearance."""
    spans: Dict[str, List[FaultSpan]] = {}
    for frame in frames:
        for fault in frame['faults']:
            runs = spans.setdefault(fault, [])
            if runs and runs[-1].last == frame['index'] - 1:
                runs[-1].last, runs[-1].t_end = frame['index'], frame['t']
            else:
                runs.append(FaultSpan(frame['index'], frame['index'], frame['t'], frame['t']))
    return spans


def _reps_overlapping(span: FaultSpan, reps: Sequence[dict]) -> List[int]:
    return [r['index'] for r in reps
            if r['t_start'] <= span.t_end and span.t_start <= r['t_end']]


def _numbers(label: str, values: Sequence[int]) -> str:
    return f"{label}{'s' if len(values) > 1 else ''} {', '.join(map(str, values))}"


def _describe(span: FaultSpan, reps: Sequence[dict]) -> str:
    if span.frames == 1:
        text = f'frame {span.first} ({span.t_start:.1f} s'
    else:
        text = f'frames {span.first}-{span.last} ({span.t_start:.1f}-{span.t_end:.1f} s'
    in_reps = _reps_overlapping(span, reps)
    return text + (f', {_numbers("rep", in_reps)})' if in_reps else ')')


def fault_lines(frames: Sequence[dict], reps: Sequence[dict]) -> List[str]:
    """Return one line per fault that occurred: where (frames, seconds, reps) and how long."""
    lines = []
    spans = fault_spans(frames)
    for fault, runs in spans.items():
        total = sum(run.frames for run in runs)
        where = '; '.join(_describe(run, reps) for run in runs[:MAX_SPANS])
        if len(runs) > MAX_SPANS:
            where += f'; and {len(runs) - MAX_SPANS} more runs'
        if len(runs) > 1:
            where += f'; {total} frames in all'
        lines.append(f'{fault_name(fault)}: {where}')
    # Faults judged once per rep (depth, lockout...) have no frames: name their reps.
    by_rep: Dict[str, List[int]] = {}
    for rep in reps:
        for fault in rep['faults']:
            if fault not in spans:
                by_rep.setdefault(fault, []).append(rep['index'])
    lines += [f'{fault_name(fault)}: {_numbers("rep", indexes)}'
              for fault, indexes in by_rep.items()]
    return lines


def unjudged_lines(frames: Sequence[dict]) -> List[str]:
    """Return one line per fault the clip could not judge in some frames, with the usual why."""
    reasons: Dict[str, Counter] = {}
    for frame in frames:
        for fault, why in frame['unjudged'].items():
            reasons.setdefault(fault, Counter())[why] += 1
    return [f'not judged: {fault_name(fault)} in {sum(why.values())} of {len(frames)} '
            f'frames ({why.most_common(1)[0][0]})' for fault, why in reasons.items()]


def summary_lines(frames: Sequence[dict], reps: Sequence[dict]) -> List[str]:
    """Return the human summary ``rep-coach form`` prints for an image, video or camera."""
    seen = sum(f['person'] for f in frames)
    lines = [f'{len(frames)} frames, person in {seen}, {len(reps)} reps']
    lines += [f"rep {r['index']} ({r['t_start']:.1f}-{r['t_end']:.1f} s): "
              f"{', '.join(fault_name(f) for f in r['faults']) or 'good'}" for r in reps]
    if len(frames) == 1:
        f = frames[0]
        lines.append(f"status {f['status']} {f['reason']}".rstrip())
        lines.append('faults: ' + (', '.join(fault_name(x) for x in f['faults']) or 'none'))
        lines += [f'not judged: {fault_name(fault)} ({why})'
                  for fault, why in f['unjudged'].items()]
        return lines
    faults = fault_lines(frames, reps)
    lines.append('form faults:' if faults else 'form faults: none')
    lines += ['  ' + line for line in faults]
    unsuitable = [f for f in frames if f['status'] == 'view_unsuitable']
    if unsuitable:
        reasons = sorted({f['reason'] for f in unsuitable})
        lines.append(f'view unsuitable in {len(unsuitable)} frames: {"; ".join(reasons)}')
    return lines + unjudged_lines(frames)
