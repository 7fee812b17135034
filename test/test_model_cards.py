"""Model cards: the target lines compare the learned stages with the baseline held out."""

from rep_coach.training.cards import _table, _target_lines


def _metrics(rep_f1: float, event_f1: float = 0.8) -> dict:
    return {'segmentation': {'event_f1': event_f1}, 'near_failure': {'rep_f1': rep_f1}}


def _report(learned: float, held: float, shipped: float) -> dict:
    loso = dict(_metrics(learned, 0.9), per_subject={'A': _metrics(learned, 0.9)})
    return {'loso': loso,
            'baseline_loso': dict(_metrics(held), per_subject={'A': _metrics(held)}),
            'baseline': dict(_metrics(shipped), per_subject={'A': _metrics(shipped)})}


def test_targets_judge_against_the_held_out_baseline_and_name_the_shipped_one() -> None:
    lines = _target_lines(_report(learned=0.73, held=0.72, shipped=0.75))
    event = next(x for x in lines if x.startswith('- event_f1'))
    rep = next(x for x in lines if x.startswith('- rep_f1'))
    # Same value held out and as shipped: one comparison.
    assert 'baseline held out 0.8: learned better' in event and 'as shipped' not in event
    assert 'baseline held out 0.72: learned better' in rep
    assert 'as shipped (not held out) 0.75: learned **not better**' in rep


def test_tables_show_the_shipped_baseline_only_where_it_differs() -> None:
    report = _report(learned=0.73, held=0.72, shipped=0.75)
    near = _table(report, 'near_failure', ('rep_f1',))
    seg = _table(report, 'segmentation', ('event_f1',))
    assert '| A baseline | 0.72 |' in near
    assert '| baseline as shipped (not held out) | 0.75 |' in near
    assert 'as shipped' not in seg


def test_reports_without_a_held_out_baseline_still_render() -> None:
    report = _report(learned=0.73, held=0.72, shipped=0.75)
    del report['baseline_loso']
    rep = next(x for x in _target_lines(report) if x.startswith('- rep_f1'))
    assert '); baseline 0.75: learned **not better**' in rep


def test_a_reference_report_adds_its_pooled_row_and_verdicts() -> None:
    report = _report(learned=0.73, held=0.72, shipped=0.75)
    reference = {'segmentation': {'event_f1': 0.62}}   # a segmenter-only reference run
    seg = _table(report, 'segmentation', ('event_f1',), reference)
    near = _table(report, 'near_failure', ('rep_f1',), reference)
    assert '| published-size reference, pooled | 0.62 |' in seg
    assert 'reference' not in near
    lines = _target_lines(report, reference)
    event = next(x for x in lines if x.startswith('- event_f1'))
    rep = next(x for x in lines if x.startswith('- rep_f1'))
    assert event.endswith('; published-size reference 0.62: learned better')
    assert 'reference' not in rep
    reference['near_failure'] = {'rep_f1': 0.8}
    rep = next(x for x in _target_lines(report, reference) if x.startswith('- rep_f1'))
    assert rep.endswith('; published-size reference 0.8: learned **not better**')
