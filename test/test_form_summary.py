"""The text summary of ``rep-coach form``: which faults, in which frames, seconds and reps."""

from __future__ import annotations

import re
from typing import List

import pytest

from rep_coach.cli import form
from rep_coach.pose.summary import fault_lines, fault_spans, FaultSpan, summary_lines
from rep_coach.pose.synthetic import squat_sequence

from test_pose_rules import RACK, run


def _frame(index: int, faults: List[str], unjudged: dict = None) -> dict:
    return {'index': index, 't': index / 10, 'person': True, 'status': 'ok', 'reason': '',
            'faults': faults, 'unjudged': unjudged or {}}


def test_faults_are_reported_as_runs_of_frames_with_times_and_reps() -> None:
    active = {2, 3, 4, 8}
    frames = [_frame(i, ['knees_caving'] if i in active else [],
                     {'elbows_low': 'front view'} if i < 5 else {}) for i in range(10)]
    reps = [{'index': 1, 't_start': 0.1, 't_end': 0.5,
             'faults': ['knees_caving', 'depth_shallow']},
            {'index': 2, 't_start': 0.6, 't_end': 0.7, 'faults': ['depth_shallow']}]
    assert fault_spans(frames) == {'knees_caving': [FaultSpan(2, 4, 0.2, 0.4),
                                                    FaultSpan(8, 8, 0.8, 0.8)]}
    assert fault_lines(frames, reps) == [
        'knees caving: frames 2-4 (0.2-0.4 s, rep 1); frame 8 (0.8 s); 4 frames in all',
        'depth shallow: reps 1, 2']
    lines = summary_lines(frames, reps)
    assert lines[:3] == ['10 frames, person in 10, 2 reps',
                         'rep 1 (0.1-0.5 s): knees caving, depth shallow',
                         'rep 2 (0.6-0.7 s): depth shallow']
    assert lines[-1] == 'not judged: elbows low in 5 of 10 frames (front view)'
    assert summary_lines([_frame(i, []) for i in range(3)], [])[-1] == 'form faults: none'


def test_rep_coach_form_text_names_the_faults_of_a_clip(capsys: pytest.CaptureFixture) -> None:
    # Three squats: good, knees caving, too shallow.
    seq = []
    for kwargs in ({}, {'valgus_deg': 45.0}, {'bottom_thigh_deg': 35.0}):
        t0 = seq[-1][0] + 1 / 30 if seq else 0.0
        seq += [(t0 + t, p) for t, p in squat_sequence(1, **kwargs, **RACK)]
    coach, verdicts = run('front_squat', seq)
    form._summary([v.to_dict() for v in verdicts], [r.to_dict() for r in coach.reps])
    out = capsys.readouterr().out
    assert f'{len(seq)} frames, person in {len(seq)}, 3 reps' in out
    assert re.search(r'^rep 2 \([\d.]+-[\d.]+ s\): knees caving$', out, re.M), out
    caving = re.search(r'^  knees caving: frames (\d+)-(\d+) \(([\d.]+)-([\d.]+) s, rep 2\)$',
                       out, re.M)
    assert caving, out
    first, last, t_start, t_end = caving.groups()
    assert [v.index for v in verdicts if 'knees_caving' in v.faults] == \
        list(range(int(first), int(last) + 1))
    rep2 = coach.reps[1]
    assert rep2.t_start <= float(t_start) <= float(t_end) <= rep2.t_end + 0.05
    assert re.search(r'^  depth shallow: rep 3$', out, re.M), out
