"""The parameter tables: validation, and agreement with the YAML and the README."""

import json
from pathlib import Path
import re

import pytest

from rep_coach.core.params import NODE_PARAMS, ParameterError, validate_all

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_valid() -> None:
    for node in NODE_PARAMS:
        validate_all(node, {})


@pytest.mark.parametrize('node, name, value, words', [
    ('imu_publisher', 'source', 'serial:/dev/tty', 'must start with'),
    ('imu_publisher', 'source', 'csv:', 'needs a value'),
    ('imu_publisher', 'publish_rate_hz', 0.0, '>= 1.0'),
    ('imu_publisher', 'publish_rate_hz', 'fast', 'expected float'),
    ('imu_publisher', 'accel_range_g', 3, '2, 4, 8 or 16'),
    ('imu_publisher', 'sim_sets', True, 'expected int'),
    # Audit: an unknown exercise was blamed on 'source' when the simulator was built.
    ('imu_publisher', 'sim_exercise', 'bogus', 'one of biceps_curl'),
    ('rep_segmenter', 'model', 'resnet', 'one of'),
    ('near_failure_classifier', 'threshold', float('nan'), 'NaN'),
    ('near_failure_classifier', 'threshold', 0.0, '> 0.0'),
    ('near_failure_classifier', 'threshold', 1.0, '< 1.0'),
    ('audio_feedback', 'target_rir', 5, '<= 3'),
    ('session_recorder', 'topics', ['/absolute'], 'relative'),
    ('session_recorder', 'topicz', ['x'], 'unknown parameter'),
])
def test_bad_values_name_the_parameter(node, name, value, words) -> None:
    with pytest.raises(ParameterError) as info:
        validate_all(node, {name: value})
    assert f"'{name}'" in str(info.value)
    assert words in str(info.value)
    assert info.value.name == name


def test_int_is_accepted_for_a_double() -> None:
    assert validate_all('imu_publisher', {'playback_speed': 2})['playback_speed'] == 2.0


def test_readme_table_lists_every_parameter_with_its_default() -> None:
    text = (ROOT / 'README.md').read_text()
    rows = re.findall(r'^\| `(\w+)` \| `(\w+)` \| [\w\[\]]+ \| `([^`]*)` \|', text, re.M)
    documented = {(node, name): default for node, name, default in rows}
    expected = {(node, s.name): json.dumps(s.default)
                for node, specs in NODE_PARAMS.items() for s in specs}
    assert documented == expected


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / 'README.md').read_text()
    commands = re.findall(r'```bash\n(.+?)\n```', readme)
    assert len(commands) >= 2
    assert 'rep-coach demo' in commands[0]
    assert commands[1] in (ROOT / '.ci' / 'run').read_text()


def test_every_parameter_the_table_accepts_builds_the_stages() -> None:
    # The table's range and the stages' own validation must agree: a value the node
    # accepts must not fail later inside the stage (a traceback instead of a message).
    from rep_coach.pipeline import classifier_factory
    for threshold in (1e-6, 0.5, 1.0 - 1e-6):
        params = validate_all('near_failure_classifier', {'threshold': threshold})
        classifier_factory('baseline', threshold=params['threshold'])
    from rep_coach.pipeline import StageError
    with pytest.raises(StageError, match='threshold'):
        classifier_factory('baseline', threshold=1.0)
