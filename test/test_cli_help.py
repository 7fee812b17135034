"""``rep-coach --help`` and ``--version``: every option explained, exit statuses, one version."""

import argparse
from pathlib import Path
import re
import subprocess
import sys

import pytest

from rep_coach import __version__
from rep_coach.cli import build_parser, main, SUBCOMMANDS

ROOT = Path(__file__).resolve().parents[1]


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser(name)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _help(argv: list, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, '--help'])
    assert info.value.code == 0
    return ' '.join(capsys.readouterr().out.split())   # as one line, wherever it wraps


@pytest.mark.parametrize('name', [name for name, _, _ in SUBCOMMANDS])
def test_every_option_says_what_it_does(name: str) -> None:
    # Once form's --exercise and --backend and train's --seed and --pretrain-steps had none.
    bare = [a.option_strings or [a.dest] for a in _subparser(name)._actions if not a.help]
    assert not bare


@pytest.mark.parametrize('name', sorted({n for n, _, _ in SUBCOMMANDS}))
def test_help_ends_with_the_exit_statuses(name: str, capsys) -> None:
    # Once train, bench and form had none.
    text = _help([name], capsys)
    assert re.search(r'exit status: 0 .*; 2 ', text)


def test_help_says_the_defaults_and_limits(capsys) -> None:
    form = _help(['form'], capsys)
    assert '(default front_squat)' in form and '(default mediapipe)' in form
    assert "of the input's type: an image in, an image out (.jpg," in form
    train = _help(['train'], capsys)
    assert '(default 0)' in train and '(default 300)' in train
    assert '1 to 600 s' in _help(['evaluate'], capsys)
    bench = _help(['bench'], capsys)
    assert '1 a target measured was missed' in bench and '3 no target missed' in bench


def test_set_rest_s_help_states_the_limits_the_check_applies() -> None:
    from rep_coach.cli.checks import set_rest
    assert set_rest('1') == 1.0 and set_rest('600') == 600.0
    for text in ('0.99', '600.5'):
        with pytest.raises(argparse.ArgumentTypeError):
            set_rest(text)


def test_version_is_the_packages_one_version(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(['--version'])
    assert info.value.code == 0
    assert capsys.readouterr().out == f'rep-coach {__version__}\n'
    # setup.py reads it from rep_coach/__init__.py; package.xml must repeat it for ROS.
    package = (ROOT / 'package.xml').read_text()
    assert re.search(r'<version>([^<]+)</version>', package).group(1) == __version__
    proc = subprocess.run([sys.executable, 'setup.py', '--version'], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-1] == __version__
