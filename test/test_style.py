"""Style checks equivalent to ament_flake8 and ament_pep257 (99 columns)."""

from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ['rep_coach', 'launch', 'test', 'bench', 'setup.py']


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', module, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_flake8() -> None:
    pytest.importorskip('flake8')
    result = _run('flake8', '--max-line-length=99', *TARGETS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pep257() -> None:
    pytest.importorskip('pydocstyle')
    # The ament_pep257 defaults: pep257 convention, the same ignores ament uses.
    result = _run('pydocstyle', '--convention=pep257',
                  '--add-ignore=D100,D101,D102,D103,D104,D105,D106,D107,D203,D212,D404',
                  'rep_coach', 'launch', 'bench')
    assert result.returncode == 0, result.stdout + result.stderr
