"""Command-line values and output paths are checked before the work: one clear line, exit 2."""

import argparse
import json
from pathlib import Path
import sys

import pytest

from rep_coach.cli import plot
from rep_coach.cli.checks import output_problem


def test_output_problem_names_what_is_wrong(tmp_path: Path) -> None:
    assert output_problem(tmp_path / 'a.png', ('.png',)) is None
    assert output_problem(tmp_path / 'A.PNG', ('.png',)) is None
    assert 'is a directory' in output_problem(tmp_path, ('.png',))
    assert 'must end in .png' in output_problem(tmp_path / 'a.txt', ('.png',))
    assert 'must end in .png' in output_problem(tmp_path / 'a', ('.png',))
    assert 'does not exist' in output_problem(tmp_path / 'no' / 'a.png', ('.png',))
    # A file where a directory should be is not "missing": it is not a directory.
    (tmp_path / 'afile.txt').write_text('x')
    assert output_problem(tmp_path / 'afile.txt' / 'a.png', ('.png',)) == \
        f'{tmp_path / "afile.txt" / "a.png"}: {tmp_path / "afile.txt"} is not a directory'
    # A dangling symbolic link is written through: its target's directory must exist.
    (tmp_path / 'link.png').symlink_to(tmp_path / 'no' / 'b.png')
    message = output_problem(tmp_path / 'link.png', ('.png',))
    assert 'a symbolic link to' in message and f'{tmp_path / "no"} does not exist' in message


def test_output_problem_tries_the_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    assert output_problem(tmp_path / 'a.png', ('.png',)) is None
    assert not (tmp_path / 'a.png').exists()
    (tmp_path / 'b.png').write_bytes(b'kept')
    assert output_problem(tmp_path / 'b.png', ('.png',)) is None
    assert (tmp_path / 'b.png').read_bytes() == b'kept'


@pytest.mark.skipif(not Path('/sys/kernel').is_dir(), reason='no sysfs')
def test_output_problem_finds_a_directory_nobody_can_write() -> None:
    # Even root, whom os.access lets through, cannot create a file in /sys.
    assert output_problem(Path('/sys/x.png'), ('.png',)) == \
        '/sys/x.png: cannot be written (Permission denied)'


def test_plot_refuses_an_unwritable_output_before_loading(tmp_path: Path, capsys) -> None:
    parser = argparse.ArgumentParser()
    plot.add_parser(parser.add_subparsers())
    args = parser.parse_args(['plot', str(tmp_path / 'missing.csv'), '-o', str(tmp_path)])
    assert plot.run(args) == 2
    assert 'is a directory' in capsys.readouterr().err


@pytest.mark.skipif(not Path('/sys/kernel').is_dir(), reason='no sysfs')
def test_plot_refuses_an_unwritable_directory_before_loading(tmp_path: Path, capsys) -> None:
    parser = argparse.ArgumentParser()
    plot.add_parser(parser.add_subparsers())
    args = parser.parse_args(['plot', str(tmp_path / 'missing.csv'), '-o', '/sys/x.png'])
    assert plot.run(args) == 2
    assert capsys.readouterr().err == \
        'rep-coach plot: /sys/x.png: cannot be written (Permission denied)\n'


@pytest.mark.parametrize('argv, words', [
    (['launch', '--namespace', '3station'], "token '3station'"),
    (['launch', '--namespace', 'a__b'], 'repeated underscores'),
    (['launch', '--duration', '0'], 'above 0'),
    (['launch', '--source', 'foo'], "argument --source: 'foo': must start with one of sim"),
    (['launch', '--source', 'csv:'], 'needs a value after the colon'),
    # The options too, before any node starts (audit: the graph started, then failed).
    (['launch', '--source', 'sim:bogus=1'], "unknown sim option 'bogus'"),
    (['launch', '--source', 'sim:sets=2,rest_s=abc'], 'rest_s'),
    (['launch', '--source', 'mpu6050:bus=x'], "option bus='x' is not valid"),
    (['play', 'bag', '--namespace', 'bad ns!'], 'invalid namespace'),
    (['demo', '--exercise', 'pushup'], "invalid choice: 'pushup'"),
    (['demo', '--audio', 'speakers'], "argument --audio: 'speakers': must be one of auto, "
                                      'null, aplay, aplay:DEVICE, pw-play, sounddevice, '
                                      'sounddevice:DEVICE, wav:DIR'),
    (['demo', '--audio', 'wav'], "argument --audio: 'wav': must be one of"),
    # near_failure_classifier's threshold, checked as the node checks it.
    (['evaluate', 'data', '--threshold', '1'], "argument --threshold: '1': must be < 1.0"),
    (['evaluate', 'data', '--threshold', 'high'], "argument --threshold: 'high': expected float"),
    # rep_segmenter's set_rest_s, checked as the node checks it.
    (['evaluate', 'data', '--set-rest-s', '0.5'], "argument --set-rest-s: '0.5': must be"),
    (['demo', '--audio', 'wav:'], "argument --audio: 'wav:': must be one of"),
    (['demo', '--audio', 'null:x'], "argument --audio: 'null:x': must be one of"),
    (['evaluate', 'data', '--limit', '-1'], 'must be 1 or more'),
    # Speeds are imu_publisher's playback_speed (at most 1000), above 0, named by the option.
    (['demo', '--speed', 'nan'], "argument --speed: 'nan': must be a number, not NaN"),
    (['demo', '--speed', 'inf'], "argument --speed: 'inf': must be <= 1000"),
    (['demo', '--speed', '1e9'], "argument --speed: '1e9': must be <= 1000"),
    (['demo', '--speed', '0'], "argument --speed: '0': must be above 0"),
    (['bench', '--soak', '--soak-speed', 'nan'], "argument --soak-speed: 'nan': must be a"),
    (['bench', '--soak', '--soak-speed', '5000'], "argument --soak-speed: '5000': must be <="),
    (['bench', '--soak', '--soak-minutes', 'nan'], 'argument --soak-minutes: must be a finite'),
    (['bench', '--soak', '--soak-minutes', 'inf'], 'argument --soak-minutes: must be a finite'),
    (['bench', '--soak', '--soak-minutes', '0'], 'argument --soak-minutes: must be a finite'),
    # Path('') is '.': an empty output would be taken for the current directory, or skipped.
    (['plot', 'bag', '-o', ''], 'argument -o/--output: empty; name the file to write'),
    (['form', 'clip.mp4', '-o', ''], 'argument -o/--output: empty; name the file to write'),
    (['form', 'clip.mp4', '--max-frames', '-1'], 'argument --max-frames: must be 0 or more'),
])
def test_bad_values_stop_before_anything_starts(argv, words, capsys) -> None:
    from rep_coach.cli import build_parser
    with pytest.raises(SystemExit) as info:
        build_parser(argv[0]).parse_args(argv)
    assert info.value.code == 2 and words in capsys.readouterr().err


def test_good_namespaces_pass() -> None:
    from rep_coach.cli.checks import namespace
    assert [namespace(ns) for ns in ('', 'station3', '/gym/station_3')] == \
        ['', 'station3', '/gym/station_3']


def test_good_sources_pass() -> None:
    from rep_coach.cli.checks import imu_source
    specs = ('sim', 'sim:seed=3', 'csv:/data/set.csv', 'bag:session', 'mpu6050')
    assert [imu_source(spec) for spec in specs] == list(specs)


def test_good_sinks_pass_and_the_node_agrees() -> None:
    # One rule: what --audio lets through, audio_feedback's parameter and make_sink take.
    from rep_coach.audio import make_sink
    from rep_coach.cli.checks import audio_sink
    from rep_coach.core.params import ParameterError, specs_for
    sink = next(s for s in specs_for('audio_feedback') if s.name == 'sink')
    for spec in ('auto', 'null', 'aplay', 'aplay:plughw:1,0', 'pw-play', 'sounddevice',
                 'sounddevice:2', 'wav:/tmp/cues'):
        assert audio_sink(spec) == spec == sink.validate('audio_feedback', spec)
    for spec in ('speakers', 'wav', 'aplay:', 'NULL', ''):
        with pytest.raises(argparse.ArgumentTypeError):
            audio_sink(spec)
        with pytest.raises(ParameterError):
            sink.validate('audio_feedback', spec)
        with pytest.raises(ValueError, match='must be one of auto'):
            make_sink(spec)


def test_launcher_blames_a_bad_override_not_the_parameter_file() -> None:
    # `rep-coach launch --source foo` used to say "parameter file .../rep_coach.yaml: ...".
    from rep_coach.launcher import LaunchError, standard_graph, validate_params_file
    from rep_coach.paths import default_params_file
    params = default_params_file()
    with pytest.raises(LaunchError) as info:
        validate_params_file(params, standard_graph('foo'))
    message = str(info.value)
    assert message.startswith("imu_publisher: parameter 'source' = 'foo' is invalid")
    assert f'passes as -p, not one from parameter file {params}' in message


@pytest.mark.parametrize('sub', ['demo', 'launch'])
def test_record_must_be_a_directory_that_can_take_a_bag(sub: str, tmp_path: Path,
                                                        capsys) -> None:
    # Once the recorder failed only after the whole run ("the session was not recorded").
    from rep_coach.cli import build_parser
    afile = tmp_path / 'afile.txt'
    afile.write_text('x')
    for value, words in [(str(afile), f"'{afile}': is not a directory"),
                         (f'{afile}/bags', f"'{afile}/bags': {afile} is not a directory"),
                         ('', "'': must not be empty")]:
        with pytest.raises(SystemExit) as info:
            build_parser(sub).parse_args([sub, '--record', value])
        assert info.value.code == 2
        assert f'argument --record: {words}' in capsys.readouterr().err
    # A directory, or one that can be made, passes; the check leaves nothing behind.
    for value in (tmp_path, tmp_path / 'new' / 'bags'):
        assert build_parser(sub).parse_args([sub, '--record', str(value)]).record == str(value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['afile.txt']


@pytest.mark.skipif(not Path('/sys/kernel').is_dir(), reason='no sysfs')
def test_record_in_a_directory_nobody_can_write_is_refused() -> None:
    from rep_coach.cli.checks import record_dir
    with pytest.raises(argparse.ArgumentTypeError, match='cannot create a directory in /sys'):
        record_dir('/sys/bags')


def test_a_directory_given_for_a_file_is_called_a_directory(tmp_path: Path, capsys) -> None:
    # Once "params file ... does not exist" and "input not found" for what plainly exists.
    from rep_coach.cli import build_parser, launch
    assert launch.run(build_parser('launch').parse_args(['launch', '--params',
                                                         str(tmp_path)])) == 2
    assert f"params file '{tmp_path}' is a directory; name the YAML file" in \
        capsys.readouterr().out
    pytest.importorskip('cv2')
    from rep_coach.cli import form
    assert form.run(build_parser('form').parse_args(['form', str(tmp_path)])) == 2
    assert capsys.readouterr().err == \
        f'rep-coach form: input {tmp_path} is a directory; name an image or video file\n'


@pytest.mark.parametrize('sub', ['launch', 'demo'])
def test_help_documents_the_exit_statuses(sub: str, capsys) -> None:
    # Before: launch and demo alone had no "exit status:" epilog.
    from rep_coach.cli import main
    with pytest.raises(SystemExit) as exit_:
        main([sub, '--help'])
    assert exit_.value.code == 0
    text = ' '.join(capsys.readouterr().out.split())   # as one line, wherever it wraps
    assert 'exit status: 0 ' in text and '1 a node failed' in text
    assert '2 nothing started: a bad option, parameter file or override' in text


def test_a_negative_speed_is_refused_by_the_rule_zero_is(capsys) -> None:
    # Once '-1' said "must be >= 0.0" (the node's rule) while '0' said "must be above 0".
    from rep_coach.cli import build_parser
    for value in ('-1', '0', '-0', '-inf'):
        with pytest.raises(SystemExit):
            build_parser('demo').parse_args(['demo', f'--speed={value}'])
        assert f"argument --speed: '{value}': must be above 0\n" in capsys.readouterr().err


def _train_args(*argv: str) -> argparse.Namespace:
    from rep_coach.cli import build_parser
    return build_parser('train').parse_args(['train', *argv])


def test_train_without_the_train_extra_says_so_in_one_line(tmp_path: Path, monkeypatch,
                                                           capsys) -> None:
    # Once a ModuleNotFoundError traceback, before any option was looked at.
    from rep_coach.cli import main, train
    monkeypatch.setitem(sys.modules, 'torch', None)   # `import torch` raises ImportError
    assert train.run(_train_args('--synthetic', '2', '--work-dir', str(tmp_path))) == 2
    err = capsys.readouterr().err
    assert err.startswith('rep-coach train: missing dependency (') and err.count('\n') == 1
    assert err.endswith('; install rep_coach[train]\n')
    # The options are checked first, and need no torch.
    assert train.run(_train_args('--data', str(tmp_path / 'none'))) == 2
    assert capsys.readouterr().err == \
        f'rep-coach train: data directory {tmp_path / "none"} not found\n'
    with pytest.raises(SystemExit) as info:
        main(['train', '--help'])
    assert info.value.code == 0 and '--pretrain-steps' in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_form_without_the_pose_extra_says_so_the_same_way(monkeypatch, capsys) -> None:
    from rep_coach.cli import build_parser, form
    monkeypatch.setitem(sys.modules, 'cv2', None)
    assert form.run(build_parser('form').parse_args(['form', 'clip.mp4'])) == 2
    err = capsys.readouterr().err
    assert err.startswith('rep-coach form: missing dependency (') and err.count('\n') == 1
    assert err.endswith('; install rep_coach[pose]\n')


def test_train_checks_where_it_writes_before_training(tmp_path: Path, monkeypatch,
                                                      capsys) -> None:
    # Once an hour of training, then a traceback writing --out (the report came last too).
    pytest.importorskip('torch')
    pytest.importorskip('onnx')
    from rep_coach.cli import train
    from rep_coach.training import pipeline

    def trained(*args: object, **kwargs: object) -> None:
        raise AssertionError('training started')
    for name in ('run_loso', 'fit_and_export', 'evaluate_baseline', 'write_json'):
        monkeypatch.setattr(pipeline, name, trained)
    afile = tmp_path / 'afile'
    afile.write_text('x')
    work = tmp_path / 'work'
    base = ['--synthetic', '2', '--no-progress']
    cases = [(['--work-dir', str(afile / 'w')], f'--work-dir {afile / "w"}: {afile} is not '
              'a directory'),
             (['--work-dir', str(work), '--out', str(afile)], f'--out {afile}: is not a '
              'directory'),
             # The default report is <work-dir>/report.json: its directory is the work dir's.
             (['--work-dir', str(work), '--no-final', '--report', str(afile / 'r.json')],
              f"--report's directory {afile}: is not a directory"),
             (['--work-dir', str(work), '--no-final', '--report', str(tmp_path)],
              f'--report {tmp_path} is a directory; name a file, e.g. '
              f'{tmp_path / "report.json"}')]
    if Path('/proc/self').is_dir():   # even root cannot create a directory in /proc
        cases.append((['--work-dir', str(work), '--out', '/proc/x'],
                      '--out /proc/x: cannot create a directory in /proc ('))
    for argv, words in cases:
        assert train.run(_train_args(*base, *argv)) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(f'rep-coach train: {words}') and err.count('\n') == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['afile']   # nothing made


def test_train_refuses_cross_validation_over_one_subject(tmp_path: Path, monkeypatch,
                                                         capsys) -> None:
    # Was a numpy traceback from the first fold, which had no set to train on.
    pytest.importorskip('torch')
    from rep_coach.cli import train
    from rep_coach.training import pipeline

    def trained(*args: object, **kwargs: object) -> None:
        raise AssertionError('training started')
    for name in ('run_loso', 'fit_and_export', 'evaluate_baseline', 'write_json'):
        monkeypatch.setattr(pipeline, name, trained)
    base = ['--synthetic', '1', '--no-progress', '--work-dir', str(tmp_path / 'w')]
    assert train.run(_train_args(*base, '--no-final')) == 2
    assert capsys.readouterr().err == (
        'rep-coach train: leave-one-subject-out needs two subjects or more; --synthetic 1 has '
        '1 (sim0): add --no-loso (and leave out --reference), or give more data\n')
    with pytest.raises(AssertionError, match='training started'):   # without LOSO it trains
        train.run(_train_args(*base, '--no-loso'))


def test_form_and_demo_errors_with_json_are_an_object_on_stdout_too(tmp_path: Path,
                                                                    capsys) -> None:
    # Once form and demo printed their own error lines, and nothing on stdout with --json.
    pytest.importorskip('cv2')
    from rep_coach.cli import build_parser, demo, form
    missing = tmp_path / 'clip.mp4'
    assert form.run(build_parser('form').parse_args(['form', str(missing), '--json'])) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {'error': f'input not found: {missing}'}
    assert captured.err == f'rep-coach form: input not found: {missing}\n'
    params = tmp_path / 'params.yaml'
    params.write_text('rep_segmenter:\n  ros__parameters:\n    no_such_parameter: 1\n')
    args = build_parser('demo').parse_args(['demo', '--json', '--params', str(params),
                                            '--record', str(tmp_path / 'bags')])
    assert demo.run(args) == 2
    captured = capsys.readouterr()
    assert captured.err == f'rep-coach demo: {json.loads(captured.out)["error"]}\n'
    assert 'no_such_parameter' in captured.err
