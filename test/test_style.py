"""
Style checks that report what ``colcon test`` reports with ament_flake8 and ament_pep257.

Both run over the whole package directory, tests included, as the ament linters do
(their default path is the package root).  flake8 reads ``setup.cfg``, which holds
ament_flake8's configuration, and must have the plugins a ROS 2 development setup
installs (setup.py's test extra); pydocstyle gets ament_pep257's default arguments.
"""

from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The flake8 plugins of a ROS 2 development setup (ROS 2 docs, "Install development
#: tools"), as ``flake8 --version`` names them.
FLAKE8_PLUGINS = ('flake8-blind-except', 'flake8-builtins', 'flake8-class-newline',
                  'flake8-comprehensions', 'flake8-deprecated', 'flake8-docstrings',
                  'flake8-import-order', 'flake8-quotes')

#: ament_pep257's default ``--convention ament``: pydocstyle ``--ignore`` with these codes.
AMENT_PEP257_IGNORE = 'D100,D101,D102,D103,D104,D105,D106,D107,D203,D212,D404'


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', module, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_flake8() -> None:
    pytest.importorskip('flake8')
    version = ''.join(_run('flake8', '--version').stdout.split()).replace('_', '-')
    missing = [plugin for plugin in FLAKE8_PLUGINS if f'{plugin}:' not in version]
    assert not missing, f'flake8 plugins missing (pip install -e .[test]): {missing}'
    result = _run('flake8', '--config=setup.cfg', '.')
    assert result.returncode == 0, result.stdout + result.stderr


def test_pep257() -> None:
    pytest.importorskip('pydocstyle')
    result = _run('pydocstyle', f'--ignore={AMENT_PEP257_IGNORE}', r'--match=.*\.py',
                  r'--match-dir=[^\._].*', '.')
    assert result.returncode == 0, result.stdout + result.stderr
