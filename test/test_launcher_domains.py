"""Tests of the domain claims behind ``isolated_env``: no two live runs share a domain."""

from __future__ import annotations

import os
from pathlib import Path
import stat
import subprocess
import sys
import tempfile

import pytest

from rep_coach import launcher
from rep_coach.launcher import claim_domain, isolated_env, LaunchError


@pytest.fixture(autouse=True)
def private_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Lock files under tmp_path: real runs' claims must not disturb these tests, nor ours them."""
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    return tmp_path


def test_domains_are_those_ros_calls_safe_on_linux() -> None:
    domains = set(launcher.ISOLATED_DOMAINS)
    assert domains == set(range(1, 102)) | set(range(215, 233))
    # Cyclone's ports for up to 32 participants per domain (7400 + 250 d + 10 + 2 i + 1)
    # stay out of Linux's ephemeral range and within 16 bits.
    for d in domains:
        low, high = 7400 + 250 * d, 7400 + 250 * d + 10 + 2 * 32 + 1
        assert high < 32768 or low > 60999, d
        assert high <= 65535, d


def test_claims_held_together_never_share_a_domain(monkeypatch) -> None:
    monkeypatch.setattr(launcher, 'ISOLATED_DOMAINS', (3, 4, 5))
    claims = [claim_domain() for _ in range(3)]
    assert sorted(c.domain for c in claims) == [3, 4, 5]
    with pytest.raises(LaunchError, match='all 3 ROS domains .* are held'):
        claim_domain()
    claims[1].release()
    again = claim_domain()
    assert again.domain == claims[1].domain and not claims[1].held
    for claim in claims + [again]:
        claim.release()


def test_isolated_env_claims_a_domain_and_keeps_it(monkeypatch) -> None:
    monkeypatch.setattr(launcher, 'ISOLATED_DOMAINS', (7, 8))
    first, second = isolated_env({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET'}), isolated_env({})
    assert {first['ROS_DOMAIN_ID'], second['ROS_DOMAIN_ID']} == {'7', '8'}
    assert first['ROS_LOCALHOST_ONLY'] == '1' and 'ROS_AUTOMATIC_DISCOVERY_RANGE' not in first
    with pytest.raises(LaunchError):
        isolated_env({})


def test_isolated_env_with_a_claim_of_ours_gives_it_back_when_told(monkeypatch) -> None:
    monkeypatch.setattr(launcher, 'ISOLATED_DOMAINS', (7,))
    with claim_domain() as claim:
        assert isolated_env({}, claim=claim)['ROS_DOMAIN_ID'] == '7'
    with pytest.raises(LaunchError, match='released'):
        isolated_env({}, claim=claim)
    assert isolated_env({})['ROS_DOMAIN_ID'] == '7'


def test_a_claim_is_exclusive_across_processes_and_ends_with_its_holder(tmp_path) -> None:
    """Another process cannot claim our domain while it holds it; its exit releases it."""
    holder = subprocess.Popen(
        [sys.executable, '-c',
         'import sys, tempfile\n'
         f'tempfile.tempdir = {str(tmp_path)!r}\n'
         'from rep_coach import launcher\n'
         'launcher.ISOLATED_DOMAINS = (9,)\n'
         'env = launcher.isolated_env({})\n'
         'print(env["ROS_DOMAIN_ID"], flush=True)\n'
         'sys.stdin.read()\n'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == '9'
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(launcher, 'ISOLATED_DOMAINS', (9,))
            with pytest.raises(LaunchError, match='held by running processes'):
                claim_domain()
            holder.stdin.close()              # the holder exits without releasing
            assert holder.wait(timeout=30) == 0
            with claim_domain() as claim:
                assert claim.domain == 9
    finally:
        if holder.poll() is None:
            holder.kill()


def test_lock_directory_is_owner_only(private_locks: Path) -> None:
    path = private_locks / f'rep_coach-domains-{os.getuid()}'
    path.mkdir(mode=0o755)
    os.chmod(path, 0o755)
    with claim_domain():
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_a_foreign_lock_path_is_refused(private_locks: Path) -> None:
    (private_locks / 'elsewhere').mkdir()
    (private_locks / f'rep_coach-domains-{os.getuid()}').symlink_to(private_locks / 'elsewhere')
    with pytest.raises(LaunchError, match='not a directory owned by this user'):
        claim_domain()
