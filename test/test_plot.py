"""``rep-coach plot`` draws the pipeline the nodes run: learned by default, or the baseline."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, List

import numpy as np
import pytest

from rep_coach.cli import plot as plot_cli
from rep_coach.core.evaluation import replay
from rep_coach.core.sim import simulate
from rep_coach.core.sim.config import SimConfig
from rep_coach.core.types import ImuRecording

MODELS = Path(__file__).resolve().parents[1] / 'models'
PNG = b'\x89PNG\r\n\x1a\n'

pytest.importorskip('onnxruntime')
needs_models = pytest.mark.skipif(not (MODELS / 'segmenter.onnx').is_file(),
                                  reason='no committed models')


def run_plot(*argv: str) -> int:
    """Run ``rep-coach plot ARGV``; return its exit status."""
    parser = argparse.ArgumentParser()
    plot_cli.add_parser(parser.add_subparsers())
    return plot_cli.run(parser.parse_args(['plot', *argv]))


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> List[Any]:
    """Keep every figure ``plot_replay`` closes, to look at it."""
    import matplotlib.pyplot as plt
    kept: List[Any] = []
    monkeypatch.setattr(plt, 'close', kept.append)
    yield kept
    for fig in kept:
        fig.clf()


def write_thomas_set(root: Path, rec: ImuRecording, name: str) -> Path:
    """
    Write ``rec`` (one set) in the thomas2025 layout under ``root``; return its set CSV.

    Rep i runs from boundary i to boundary i + 1, so the simulator's short pauses
    between reps are given to the next rep.
    """
    from rep_coach.core.thomas2025 import RAW_DIR, REP_INDEX_FILE, RPE_FILE
    rate = rec.rate_hz
    lines = ['Application:, simulated', 'ACC X (G), ACC Y (G), ACC Z (G), GYRO X (deg/s), '
             'GYRO Y (deg/s), GYRO Z (deg/s)', ', '.join([f'{rate:g} Hz'] * 6)]
    rows = np.hstack([rec.imu.accel / 9.80665, np.degrees(rec.imu.gyro)])
    lines += [', '.join(f'{v:.6f}' for v in row) for row in rows]
    (root / RAW_DIR).mkdir(parents=True)
    path = root / RAW_DIR / f'{name}.csv'
    path.write_text('\n'.join(lines) + '\n')
    reps = rec.sets[0].reps
    t0 = float(rec.imu.t[0])
    bounds = [round((r - t0) * rate) for r in [reps[0].start] + [r.end for r in reps]]
    (root / REP_INDEX_FILE).write_text(f'{name}, {bounds}, [], {len(reps)}, {len(reps)}\n')
    (root / RPE_FILE).write_text('\n'.join([name, str(len(reps))]
                                           + [f'{r.rpe:g}' for r in reps]) + '\n')
    return path


@pytest.fixture(scope='module')
def sim_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write a simulated set as a thomas2025-layout directory; return its CSV."""
    return write_thomas_set(tmp_path_factory.mktemp('thomas'),
                            simulate(SimConfig(seed=3, sets=1)), 'S001_10_1')


@pytest.fixture(scope='module')
def sim_recording() -> ImuRecording:
    """Two simulated sets of curls, the second after a 25 s rest."""
    return simulate(SimConfig(seed=5, sets=2, rest_s=25.0))


def _learned(history_s: float | None = None) -> Any:
    from rep_coach.pipeline import segmenter_factory
    return segmenter_factory('learned', str(MODELS), history_s=history_s)()


# -- the learned segmenter's signals ----------------------------------------------------------
@needs_models
def test_learned_signals_are_what_the_segmenter_streamed(sim_recording: ImuRecording) -> None:
    span = float(sim_recording.imu.t[-1] - sim_recording.imu.t[0])
    seg = _learned(history_s=span + 60.0)
    result = replay(sim_recording, seg, None)
    sig = seg.signals()
    # One value per 100 Hz grid sample, none missing or repeated, from the first sample
    # to the last complete hop.
    k = np.rint(sig.t * 100.0).astype(np.int64)
    assert np.all(np.diff(k) == 1)
    assert sig.t[0] == pytest.approx(sim_recording.imu.t[0], abs=0.01)
    assert sig.t[-1] == pytest.approx(sim_recording.imu.t[-1], abs=0.11)
    assert sig.inputs.shape == (4, sig.t.size) == (4, sig.p_end.size) == (4, sig.p_active.size)
    assert np.all((sig.p_end >= 0) & (sig.p_end <= 1))
    # The picker run again over the kept probability offers exactly the segmenter's
    # candidates: every rep it made, and those its checks dropped.
    picked = plot_cli.picked_ends(seg)
    made = [e.end for e in result.events]
    assert len(made) >= 10
    assert [p.end for p in picked if p.end in set(made)] == made
    assert len(plot_cli.dropped_ends(picked, result)) == seg.rejected + seg.unsure_first
    assert len(picked) == len(made) + seg.rejected + seg.unsure_first


@needs_models
def test_the_kept_signals_are_bounded_and_change_no_event(sim_recording: ImuRecording) -> None:
    bounded, whole = _learned(), _learned(history_s=1e4)
    short, long = replay(sim_recording, bounded, None), replay(sim_recording, whole, None)
    assert [(e.start, e.end, e.stamp) for e in short.events] == \
        [(e.start, e.end, e.stamp) for e in long.events]
    assert float(sim_recording.imu.t[-1] - sim_recording.imu.t[0]) > 60.0   # twice 30 s
    # The nodes' default keeps 30 s (RowHistory holds up to 1.25 of its span).
    kept = bounded.signals().t.size
    assert 3000 <= kept <= 3750
    np.testing.assert_array_equal(bounded.signals().p_end, whole.signals().p_end[-kept:])


# -- the command ------------------------------------------------------------------------------
@needs_models
@pytest.mark.parametrize('pipeline, ylabels', [
    ('learned', ['forearm angle (deg)', 'angular rate (deg/s)', 'probability',
                 'p(near failure)']),
    ('baseline', ['angular rate (rad/s)', 'forearm angle (rad)', 'p(near failure)']),
])
def test_both_pipelines_draw_a_simulated_set(pipeline: str, ylabels: List[str], sim_set: Path,
                                             tmp_path: Path, figures: List[Any],
                                             capsys: Any) -> None:
    out = tmp_path / f'{pipeline}.png'
    assert run_plot(str(sim_set), '-o', str(out), '--pipeline', pipeline) == 0
    assert out.read_bytes()[:8] == PNG
    printed = capsys.readouterr().out
    assert f'labelled; {pipeline} pipeline)' in printed
    fig = figures[0]
    assert [ax.get_ylabel() for ax in fig.axes] == ylabels
    title = fig.get_suptitle()
    assert f'{pipeline} pipeline' in title
    assert (f'models {MODELS}' in title) == (pipeline == 'learned')


@needs_models
def test_learned_is_the_default_and_draws_the_networks_view(sim_set: Path, tmp_path: Path,
                                                            figures: List[Any]) -> None:
    from rep_coach.core.thomas2025 import load_set
    from rep_coach.learned.events import PickerConfig
    assert run_plot(str(sim_set), '-o', str(tmp_path / 'a.png')) == 0
    ax_angle, ax_rate, ax_p, _ = figures[0].axes
    # The end probability drawn is the segmenter's, sample by sample, with the
    # picker's levels.
    seg = _learned(history_s=1e4)
    rec = load_set(sim_set.parent.parent, sim_set.stem)
    replay(rec, seg, None)
    sig = seg.signals()
    drawn = {line.get_label(): line for line in ax_p.get_lines()}
    np.testing.assert_array_equal(drawn['p(rep end), the network output'].get_ydata(),
                                  sig.p_end)
    levels = {line.get_ydata()[0] for line in ax_p.get_lines()
              if line.get_label().startswith(('a run', "a set's"))}
    assert levels == {PickerConfig().on, PickerConfig().off, 0.5}
    angle = ax_angle.get_lines()[0].get_ydata()
    np.testing.assert_allclose(angle, np.degrees(sig.inputs[0] * np.pi))
    assert 100.0 < angle.max() - angle.min() < 180.0        # degrees, not radians


@pytest.mark.parametrize('make', ['missing', 'corrupt'])
def test_models_that_do_not_load_stop_with_one_line(make: str, sim_set: Path, tmp_path: Path,
                                                    capsys: Any) -> None:
    models = tmp_path / 'models'
    if make == 'corrupt':
        models.mkdir()
        (models / 'segmenter.onnx').write_bytes(b'not onnx')
    out = tmp_path / 'a.png'
    assert run_plot(str(sim_set), '-o', str(out), '--models', str(models)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'rep-coach plot: --models {models}: ')
    assert err.endswith('; --pipeline baseline works without them\n')
    assert err.count('\n') == 1
    assert ('no such directory' if make == 'missing' else 'segmenter.onnx') in err
    assert not out.exists()
    # The baseline needs no models, and says it does not read the ones named.
    assert run_plot(str(sim_set), '-o', str(out), '--models', str(models),
                    '--pipeline', 'baseline') == 0
    assert '--models is not used' in capsys.readouterr().err


def test_unknown_pipeline_is_refused(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        run_plot('x.csv', '-o', 'x.png', '--pipeline', 'magic')
    assert "invalid choice: 'magic'" in capsys.readouterr().err


# -- real data --------------------------------------------------------------------------------
@needs_models
@pytest.mark.parametrize('pipeline', ['learned', 'baseline'])
def test_both_pipelines_draw_a_real_set(pipeline: str, thomas2025_dir: Path, tmp_path: Path,
                                        capsys: Any) -> None:
    out = tmp_path / 'A321_10_1.png'
    assert run_plot(f'{thomas2025_dir}:A321_10_1', '-o', str(out), '--pipeline', pipeline) == 0
    assert out.read_bytes()[:8] == PNG
    printed = capsys.readouterr().out
    assert '14 labelled' in printed and f'{pipeline} pipeline' in printed


def test_a_write_that_fails_after_the_replay_stops_with_one_line(
        sim_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    # The path is checked up front, but the disk can still fill while the set is replayed.
    def full(*args: Any, **kwargs: Any) -> Path:
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(plot_cli, 'plot_replay', full)
    out = tmp_path / 'a.png'
    assert run_plot(str(sim_set), '-o', str(out), '--pipeline', 'baseline') == 2
    assert capsys.readouterr().err.splitlines()[-1] == \
        f'rep-coach plot: {out}: cannot be written (No space left on device)'


def test_stamps_too_large_for_a_date_draw_without_one(tmp_path: Path, capsys: Any) -> None:
    # Before: a CSV stamped past year 9999 stopped with a traceback (ValueError: year
    # 33658 is out of range) where the axis label names the first sample's date.
    from rep_coach.core.sources import write_our_csv
    rec = simulate(SimConfig(seed=3, sets=1))
    rec.imu.t = rec.imu.t + 1e12
    write_our_csv(tmp_path / 'far.csv', rec.imu)
    out = tmp_path / 'far.png'
    assert run_plot(str(tmp_path / 'far.csv'), '-o', str(out), '--pipeline', 'baseline') == 0
    assert out.read_bytes()[:8] == PNG
    assert 'Traceback' not in capsys.readouterr().err
