"""Output paths are checked before the work: a clear error, not a traceback at the end."""

import argparse
from pathlib import Path

from rep_coach.cli import plot
from rep_coach.cli.outputs import output_problem


def test_output_problem_names_what_is_wrong(tmp_path: Path) -> None:
    assert output_problem(tmp_path / 'a.png', ('.png',)) is None
    assert output_problem(tmp_path / 'A.PNG', ('.png',)) is None
    assert 'is a directory' in output_problem(tmp_path, ('.png',))
    assert 'must end in .png' in output_problem(tmp_path / 'a.txt', ('.png',))
    assert 'must end in .png' in output_problem(tmp_path / 'a', ('.png',))
    assert 'does not exist' in output_problem(tmp_path / 'no' / 'a.png', ('.png',))


def test_plot_refuses_an_unwritable_output_before_loading(tmp_path: Path, capsys) -> None:
    parser = argparse.ArgumentParser()
    plot.add_parser(parser.add_subparsers())
    args = parser.parse_args(['plot', str(tmp_path / 'missing.csv'), '-o', str(tmp_path)])
    assert plot.run(args) == 2
    assert 'is a directory' in capsys.readouterr().err
