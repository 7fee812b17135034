"""Shared pytest fixtures."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / 'shared' / 'data'


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """Return ``../shared/data`` or skip the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f'shared data not found at {SHARED_DATA}')
    return SHARED_DATA


@pytest.fixture(scope='session')
def thomas2025_dir(shared_data: Path) -> Path:
    """Return the thomas2025 dataset directory or skip."""
    path = shared_data / 'thomas2025'
    if not (path / 'rep_indexes_corrected.txt').is_file():
        pytest.skip(f'thomas2025 dataset not found at {path}')
    return path
