"""
Style checks that report what ``colcon test`` reports with ament_flake8 and ament_pep257.

Both run over the whole package directory, tests included, as the ament linters do
(their default path is the package root).  flake8 reads ``setup.cfg``, which holds
ament_flake8's configuration, and must have the plugins a ROS 2 development setup
installs (setup.py's test extra); pydocstyle gets ament_pep257's default arguments.
"""

import ast
from pathlib import Path
import re
import subprocess
import sys
from typing import List

import pytest

ROOT = Path(__file__).resolve().parents[1]


def flake8_plugins() -> List[str]:
    """
    Return the flake8 plugins of setup.py's test extra, as ``flake8 --version`` names them.

    They are the plugins a ROS 2 development setup installs (ROS 2 docs, "Install
    development tools"); setup.py is the one place that lists them.
    """
    tree = ast.parse((ROOT / 'setup.py').read_text(encoding='utf-8'))
    extras = next(ast.literal_eval(node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.keyword) and node.arg == 'extras_require')
    names = [re.split(r'[<>=!~;\[ ]', requirement, maxsplit=1)[0]
             for requirement in extras['test']]
    return [name for name in names if name.startswith('flake8-')]


#: ament_pep257's default ``--convention ament``: pydocstyle ``--ignore`` with these codes.
AMENT_PEP257_IGNORE = 'D100,D101,D102,D103,D104,D105,D106,D107,D203,D212,D404'


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', module, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_flake8() -> None:
    pytest.importorskip('flake8')
    version = ''.join(_run('flake8', '--version').stdout.split()).replace('_', '-')
    plugins = flake8_plugins()
    assert plugins, 'the test extra in setup.py names no flake8 plugin'
    missing = [plugin for plugin in plugins if f'{plugin}:' not in version]
    assert not missing, f'flake8 plugins missing (pip install -e .[test]): {missing}'
    result = _run('flake8', '--config=setup.cfg', '.')
    assert result.returncode == 0, result.stdout + result.stderr


def test_pep257() -> None:
    pytest.importorskip('pydocstyle')
    result = _run('pydocstyle', f'--ignore={AMENT_PEP257_IGNORE}', r'--match=.*\.py',
                  r'--match-dir=[^\._].*', '.')
    assert result.returncode == 0, result.stdout + result.stderr
