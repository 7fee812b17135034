"""Unit tests of the coaching policy on event sequences (no audio, no ROS)."""

from typing import List, Optional, Tuple

import pytest

from rep_coach.core.coaching import (AUDIO_TONE, CoachingConfig, CoachingPolicy, Cue,
                                     number_to_words, PRIORITY, summary_text)
from rep_coach.core.types import NearFailureState, RepEvent

REP_PERIOD = 2.5


def rep(i: int, t: float, set_index: int = 1) -> RepEvent:
    """Build a rep event ending at ``t``."""
    return RepEvent(set_index=set_index, rep_index=i, start=t - 2.0, end=t, stamp=t + 0.1)


def state(i: int, t: float, p: float, rir: Optional[int] = None,
          set_index: int = 1) -> NearFailureState:
    """Build a near-failure verdict."""
    return NearFailureState(set_index=set_index, rep_index=i, stamp=t + 0.12,
                            probability=p, near_failure=p >= 0.5, rir=rir)


def run(policy: CoachingPolicy, reps: List[Tuple[int, Optional[float], Optional[int]]],
        t0: float = 0.0, set_index: int = 1, rest_after: bool = True) -> List[Cue]:
    """Feed (rep_index, probability, rir) triples, state right after its rep."""
    cues: List[Cue] = []
    t = t0
    for i, p, r in reps:
        t += REP_PERIOD
        cues += policy.on_rep(rep(i, t, set_index), t)
        cues += policy.tick(t + 0.05)
        if p is not None:
            cues += policy.on_near_failure(state(i, t, p, r, set_index), t + 0.1)
    if rest_after:
        cues += policy.tick(t + policy.config.set_rest_s + 0.5)
    return cues


def texts(cues: List[Cue]) -> List[str]:
    """Return the cue texts."""
    return [c.text for c in cues]


def test_number_words() -> None:
    assert number_to_words(1) == 'one'
    assert number_to_words(8) == 'eight'
    assert number_to_words(21) == 'twenty-one'
    assert number_to_words(30) == 'thirty'
    assert number_to_words(100) == 'one hundred'
    assert number_to_words(115) == 'one hundred and fifteen'
    with pytest.raises(ValueError):
        number_to_words(-1)


def test_full_set_with_rir_counts_down_and_summarises() -> None:
    policy = CoachingPolicy()
    rirs = [3, 3, 3, 3, 3, 2, 1, 0]          # target_rir=1: stop at rir 1
    probs = [0.05, 0.1, 0.1, 0.2, 0.3, 0.75, 0.9, 0.97]
    cues = run(policy, [(i + 1, p, r) for i, (p, r) in enumerate(zip(probs, rirs))])
    assert texts(cues) == ['one', 'two', 'three', 'four', 'five', 'six', 'last one', 'seven',
                           'stop', 'eight', 'eight reps, taken to failure']
    kinds = [c.kind for c in cues]
    assert kinds.count('stop') == 1 and kinds[-1] == 'summary'
    stop = next(c for c in cues if c.kind == 'stop')
    assert stop.priority == PRIORITY['stop'] > PRIORITY['rep']
    assert stop.rep_index == 7 and stop.set_index == 1
    assert all(c.set_index == 1 for c in cues)
    assert policy.summaries[0].stop_cued and policy.summaries[0].reps == 8


def test_summary_one_short_and_two_left() -> None:
    policy = CoachingPolicy(CoachingConfig(target_rir=1))
    rirs = [3, 3, 3, 3, 3, 3, 2, 1]
    probs = [0.1] * 6 + [0.8, 0.9]
    cues = run(policy, [(i + 1, p, r) for i, (p, r) in enumerate(zip(probs, rirs))])
    assert texts(cues)[-3:] == ['eight', 'stop', 'eight reps, stopped about one short of failure']
    assert 'last one' in texts(cues)
    policy0 = CoachingPolicy(CoachingConfig(target_rir=0))
    cues0 = run(policy0, [(i + 1, p, r) for i, (p, r) in enumerate(zip(probs, rirs))])
    assert [c.text for c in cues0 if c.kind == 'rir'] == ['two left', 'last one']
    assert not [c for c in cues0 if c.kind == 'stop']


def test_summary_texts() -> None:
    assert summary_text(8, 1) == 'eight reps, stopped about one short of failure'
    assert summary_text(8, 0) == 'eight reps, taken to failure'
    assert summary_text(8, None) == 'eight reps'
    assert summary_text(1, None) == 'one rep'
    assert summary_text(8, 2) == 'eight reps, stopped about two short of failure'
    assert summary_text(8, 3) == 'eight reps, stopped three or more short of failure'
    assert summary_text(5, None, near_failure=True) == 'five reps, stopped near failure'


def test_summary_unknown_without_states_and_tone_reps() -> None:
    policy = CoachingPolicy(CoachingConfig(rep_cue='tone'))
    cues = run(policy, [(i, None, None) for i in range(1, 9)])
    assert texts(cues) == [number_to_words(i) for i in range(1, 9)] + ['eight reps']
    assert all(c.audio == AUDIO_TONE for c in cues if c.kind == 'rep')
    assert cues[-1].audio != AUDIO_TONE


def test_unconfident_rir_is_not_spoken() -> None:
    policy = CoachingPolicy(CoachingConfig(confidence=0.7))
    cues = run(policy, [(1, 0.2, 3), (2, 0.5, 2), (3, 0.55, 2), (4, 0.3, 3)])
    assert [c.kind for c in cues] == ['rep'] * 4 + ['summary']
    assert cues[-1].text == 'four reps, stopped three or more short of failure'


def test_hovering_probability_only_gives_one_stop() -> None:
    """Probability-only classifier hovering around the threshold: no flip-flop."""
    policy = CoachingPolicy()
    probs = [0.1, 0.3, 0.59, 0.61, 0.58, 0.62, 0.45, 0.61, 0.59, 0.62]
    cues = run(policy, [(i + 1, p, None) for i, p in enumerate(probs)])
    assert [c.text for c in cues if c.kind != 'rep'] == ['stop', 'ten reps, stopped near failure']
    stop = next(c for c in cues if c.kind == 'stop')
    assert stop.rep_index == 4


def test_hovering_with_target_zero_counts_down_once() -> None:
    policy = CoachingPolicy(CoachingConfig(target_rir=0, near_failure_rir=1))
    probs = [0.2, 0.61, 0.59, 0.6, 0.39, 0.7, 0.6]
    cues = run(policy, [(i + 1, p, None) for i, p in enumerate(probs)])
    warn = [(c.text, c.rep_index) for c in cues if c.kind in ('rir', 'stop')]
    # Latch engages at rep 2 ("one in reserve" = last one), holds at 3 -> stop;
    # release at 5 and re-engage at 6 must not start the ladder again.
    assert warn == [('last one', 2), ('stop', 3)]


def test_hovering_rir_estimate_does_not_flip_flop() -> None:
    policy = CoachingPolicy()
    seq = [(1, 0.1, 3), (2, 0.71, 2), (3, 0.69, 3), (4, 0.72, 2), (5, 0.65, 1),
           (6, 0.62, 2), (7, 0.66, 1)]
    cues = run(policy, seq)
    assert [(c.text, c.rep_index) for c in cues if c.kind in ('rir', 'stop')] == \
        [('last one', 2), ('stop', 5)]
    assert cues[-1].text == 'seven reps, stopped about one short of failure'


def test_warnings_repeat_in_the_next_set() -> None:
    policy = CoachingPolicy()
    seq = [(1, 0.2, 3), (2, 0.8, 2), (3, 0.9, 1)]
    cues = run(policy, seq) + run(policy, seq, t0=100.0, set_index=2)
    assert [c.text for c in cues if c.kind != 'rep'] == [
        'last one', 'stop', 'three reps, stopped about one short of failure',
        'last one', 'stop', 'three reps, stopped about one short of failure']
    assert [c.set_index for c in cues if c.kind == 'summary'] == [1, 2]


def test_missed_reps_keep_the_segmenter_count() -> None:
    policy = CoachingPolicy()
    cues = run(policy, [(1, None, None), (2, None, None), (3, None, None),
                        (5, None, None), (6, None, None)])
    assert texts(cues) == ['one', 'two', 'three', 'five', 'six', 'six reps']
    assert policy.summaries[0].missed_reps == 1


def test_duplicate_and_reordered_reps_are_ignored() -> None:
    policy = CoachingPolicy()
    cues = policy.on_rep(rep(1, 1.0), 1.0)
    cues += policy.on_rep(rep(2, 3.0), 3.0)
    cues += policy.on_rep(rep(2, 3.0), 3.1)
    cues += policy.on_rep(rep(1, 1.0), 3.2)
    assert texts(cues) == ['one', 'two']


def test_set_ends_by_tick_after_rest() -> None:
    policy = CoachingPolicy(CoachingConfig(set_rest_s=8.0))
    cues = policy.on_rep(rep(1, 10.0), 10.0) + policy.on_rep(rep(2, 12.0), 12.0)
    assert policy.tick(19.9) == []
    assert policy.in_set
    end = policy.tick(20.0)
    assert texts(end) == ['two reps'] and end[0].kind == 'summary'
    assert end[0].stamp == 20.0
    assert not policy.in_set
    assert policy.tick(30.0) == []      # summarised once only
    assert texts(cues) == ['one', 'two']


def test_the_rest_is_measured_from_the_last_reps_end_not_its_detection() -> None:
    # As the segmenters measure set_rest_s (opens_new_set): from a rep's end.  The coach
    # hears of the rep at its stamp, 1.5 s later here; the rest began at its end.
    policy = CoachingPolicy(CoachingConfig(set_rest_s=8.0))
    late = RepEvent(set_index=1, rep_index=1, start=8.0, end=10.0, stamp=11.5)
    assert texts(policy.on_rep(late, 11.5)) == ['one']
    assert policy.tick(17.9) == []
    end = policy.tick(18.0)                     # 8 s after the end, 6.5 s after the stamp
    assert texts(end) == ['one rep'] and end[0].stamp == 18.0
    summary = policy.summaries[0]
    assert (summary.start, summary.end) == (8.0, 10.0)


def test_a_rep_decides_by_its_start_whenever_it_arrives() -> None:
    policy = CoachingPolicy(CoachingConfig(set_rest_s=8.0))
    cues = policy.on_rep(RepEvent(1, 1, 8.0, 10.0, 10.5), 10.5)
    # No tick since: the next rep started 7.9 s after the last end (same set), or 8 s.
    cues += policy.on_rep(RepEvent(1, 2, 17.9, 20.0, 20.5), 20.5)
    cues += policy.on_rep(RepEvent(1, 3, 28.0, 30.0, 30.5), 30.5)
    assert texts(cues) == ['one', 'two', 'two reps', 'one']


def test_a_rep_under_way_when_the_rest_ran_out_reopens_its_set() -> None:
    # The timer cannot see a rep that has started but is not detected yet (its event
    # comes at its end).  It started within the rest, so it is in the set, for the
    # segmenter (same set_index) and for the coach: the count goes on.
    policy = CoachingPolicy(CoachingConfig(set_rest_s=8.0))
    cues = policy.on_rep(RepEvent(1, 1, 8.0, 10.0, 10.5), 10.5)
    cues += policy.on_rep(RepEvent(1, 2, 10.5, 12.0, 12.5), 12.5)
    cues += policy.tick(20.0)                           # 8 s after rep 2's end
    assert texts(cues) == ['one', 'two', 'two reps']
    cues = policy.on_rep(RepEvent(1, 3, 19.5, 22.0, 22.5), 22.5)   # started at 19.5
    assert texts(cues) == ['three'] and cues[0].set_index == 1
    assert policy.in_set and policy.summaries == []     # the first summary was early
    end = policy.tick(30.0)
    assert texts(end) == ['three reps'] and end[0].set_index == 1
    assert [(s.set_index, s.reps, s.start, s.end) for s in policy.summaries] == \
        [(1, 3, 8.0, 22.0)]


def test_only_a_new_rep_that_started_within_the_rest_reopens_a_set() -> None:
    policy = CoachingPolicy(CoachingConfig(set_rest_s=8.0))
    policy.on_rep(RepEvent(1, 1, 8.0, 10.0, 10.5), 10.5)
    assert texts(policy.tick(18.0)) == ['one rep']
    # Its rest had run out: a new set, counted from one, as the segmenter would split it
    # had it the same set_rest_s (it kept set_index 1 here).
    cues = policy.on_rep(RepEvent(1, 2, 18.0, 20.0, 20.5), 20.5)
    assert texts(cues) == ['one'] and cues[0].set_index == 2
    assert texts(policy.tick(28.0)) == ['one rep']
    # The next segmenter set never reopens the set before it.
    cues = policy.on_rep(RepEvent(2, 1, 27.0, 29.0, 29.5), 29.5)
    assert texts(cues) == ['one'] and cues[0].set_index == 3
    assert [s.set_index for s in policy.summaries] == [1, 2]


def test_long_rest_splits_a_set_without_tick() -> None:
    """The segmenter keeps counting (same set_index) but the lifter rested."""
    policy = CoachingPolicy()
    cues = policy.on_rep(rep(1, 0.0), 0.0) + policy.on_rep(rep(2, 2.0), 2.0)
    cues += policy.on_rep(rep(3, 60.0), 60.0)     # no tick in between
    cues += policy.on_rep(rep(4, 62.0), 62.0)
    assert texts(cues) == ['one', 'two', 'two reps', 'one', 'two']
    assert [c.set_index for c in cues] == [1, 1, 1, 2, 2]


def test_segmenter_new_set_ends_the_set_and_missed_first_rep_counts() -> None:
    policy = CoachingPolicy()
    cues = policy.on_rep(rep(1, 0.0), 0.0) + policy.on_rep(rep(2, 2.0), 2.0)
    cues += policy.on_rep(rep(2, 5.0, set_index=2), 5.0)   # rep 1 of set 2 missed
    assert texts(cues) == ['one', 'two', 'two reps', 'two']
    assert policy.flush(6.0)[0].text == 'two reps'
    assert policy.summaries[-1].missed_reps == 1


def test_near_failure_before_its_rep_is_said_after_the_count() -> None:
    policy = CoachingPolicy()
    cues = policy.on_rep(rep(1, 0.0), 0.0)
    cues += policy.on_near_failure(state(1, 0.0, 0.2, 3), 0.1)
    cues += policy.on_near_failure(state(2, 2.0, 0.9, 1), 2.0)   # before rep 2
    assert texts(cues) == ['one']
    cues += policy.on_rep(rep(2, 2.0), 2.05)
    assert texts(cues) == ['one', 'two', 'stop']
    assert cues[-1].kind == 'stop' and cues[-1].rep_index == 2


def test_near_failure_before_first_rep_of_a_set() -> None:
    policy = CoachingPolicy()
    cues = policy.on_near_failure(state(1, 0.0, 0.95, 1), 0.0)
    cues += policy.on_rep(rep(1, 0.0), 0.01)
    assert texts(cues) == ['one', 'stop']


def test_near_failure_whose_rep_never_comes_is_applied_after_wait() -> None:
    policy = CoachingPolicy(CoachingConfig(state_wait_s=0.5))
    cues = policy.on_rep(rep(1, 0.0), 0.0) + policy.on_rep(rep(2, 2.0), 2.0)
    cues += policy.on_near_failure(state(3, 4.0, 0.9, 2), 4.0)   # rep 3 lost
    assert policy.tick(4.3) == []
    late = policy.tick(4.6)
    assert texts(late) == ['last one'] and late[0].rep_index == 3
    cues += late
    # The summary tells only what is known about the last counted rep (two).
    assert texts(policy.flush(5.0)) == ['two reps']


def test_late_verdict_for_a_finished_set_is_ignored() -> None:
    policy = CoachingPolicy()
    run(policy, [(1, 0.1, 3), (2, 0.2, 3)])
    assert policy.on_near_failure(state(2, 5.0, 0.99, 0), 20.0) == []
    assert policy.tick(40.0) == []
    cues = run(policy, [(1, 0.1, 3)], t0=50.0, set_index=2)
    assert texts(cues) == ['one', 'one rep, stopped three or more short of failure']


def test_verdict_for_an_earlier_rep_does_not_define_the_summary() -> None:
    policy = CoachingPolicy()
    cues = run(policy, [(1, 0.1, 3), (2, 0.2, 2), (3, None, None)])
    assert cues[-1].text == 'three reps'


def test_nan_probability_falls_back_to_decision() -> None:
    policy = CoachingPolicy()
    cues = policy.on_rep(rep(1, 0.0), 0.0)
    nf = NearFailureState(set_index=1, rep_index=1, stamp=0.1, probability=float('nan'),
                          near_failure=True, rir=None)
    cues += policy.on_near_failure(nf, 0.1)
    assert texts(cues) == ['one', 'stop']


def test_fixed_phrases_cover_counts_and_warnings() -> None:
    phrases = CoachingPolicy().fixed_phrases()
    for needed in ('one', 'thirty', 'two left', 'last one', 'stop'):
        assert needed in phrases


@pytest.mark.parametrize('field,value', [('target_rir', -1), ('set_rest_s', 0.0),
                                         ('rep_cue', 'beep'), ('confidence', 1.5),
                                         ('near_failure_off', 0.9)])
def test_config_errors_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        CoachingConfig(**{field: value})


def test_segmenter_restart_starts_a_new_set() -> None:
    policy = CoachingPolicy()
    cues = policy.on_rep(rep(4, 0.0, set_index=3), 0.0)
    cues += policy.on_rep(rep(1, 2.0, set_index=1), 2.0)   # segmenter restarted
    assert texts(cues) == ['four', 'four reps', 'one']


def test_form_cues_say_something_and_not_at_length() -> None:
    # Audit: an empty form cue was spoken (and published); a 5000-character one queued.
    from rep_coach.core.coaching import form_cue, FORM_CUE_MAX_CHARS, KIND_FORM
    assert form_cue('', 1.0, 1) is None and form_cue(' \n\t', 1.0, 1) is None
    cue = form_cue('  elbows\nup ', 2.0, 3)
    assert (cue.text, cue.kind, cue.stamp, cue.set_index, cue.rep_index) == \
        ('elbows up', KIND_FORM, 2.0, 3, 0)
    long = form_cue('knees out ' * 500, 2.0, 1).text
    assert len(long) <= FORM_CUE_MAX_CHARS and long.startswith('knees out knees')
    assert long.endswith(('knees', 'out'))        # cut at a word


def test_form_cues_of_control_characters_say_nothing() -> None:
    # Before: a cue of NULs was spoken, published on feedback and logged raw (grep then
    # took the log for a binary file); an ESC sequence or a bidi override went the same way.
    from rep_coach.core.coaching import form_cue
    assert form_cue('\x00\x00', 1.0, 1) is None and form_cue('\u202e\x7f', 1.0, 1) is None
    assert form_cue('\x1b[2Jelbows\x00up\u202e', 1.0, 1).text == '[2Jelbows up'
    assert form_cue('genoux \u00e9cart\u00e9s \U0001F600', 1.0, 1).text == \
        'genoux \u00e9cart\u00e9s \U0001F600'
