"""
Where the installed launch, config and model files are.

Under ROS the package's share directory comes from the ament index; installed
with pip it is ``<prefix>/share/rep_coach``; in a source checkout (editable
install, tests) it is the repository itself.
"""

from __future__ import annotations

from pathlib import Path
import sys

PACKAGE = 'rep_coach'
_SOURCE_ROOT = Path(__file__).resolve().parents[1]


def share_dir() -> Path:
    """Return the directory holding ``config/``, ``launch/`` and ``models/``."""
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError, ValueError):
        pass
    # A source checkout wins over an older pip-installed copy of the data.
    if (_SOURCE_ROOT / 'package.xml').is_file() and (_SOURCE_ROOT / 'config').is_dir():
        return _SOURCE_ROOT
    for prefix in (sys.prefix, sys.base_prefix):
        candidate = Path(prefix) / 'share' / PACKAGE
        if (candidate / 'config').is_dir():
            return candidate
    return _SOURCE_ROOT


def default_params_file() -> Path:
    """Return the installed ``config/rep_coach.yaml``."""
    return share_dir() / 'config' / 'rep_coach.yaml'


def models_dir(override: str = '') -> Path:
    """Return ``override`` if given, else the installed ``models/`` directory."""
    return Path(override).expanduser() if override else share_dir() / 'models'
