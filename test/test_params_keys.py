"""
Which parameter-file sections apply to which node: one rule, rcl's, in the launcher and nodes.

The launcher checked a file with a few literal key forms while the DDS runtime applied it with
rcl's wildcards; they disagreed on namespaced keys, on ``/*`` and on namespaces nested as YAML
levels.  Each case below goes through :func:`params_key_matches` and through both consumers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rep_coach.launcher import LaunchError, NodeLaunch, validate_params_file
from rep_coach.ros_names import params_key_matches
from rep_coach.runtime import BACKEND

# (key, fully qualified node name, applies?); '# was' marks the launcher's old answer.
CASES = [
    ('/**', '/rep_segmenter', True),
    ('/**', '/gym/station1/rep_segmenter', True),
    ('**', '/station1/rep_segmenter', True),
    ('/**/rep_segmenter', '/rep_segmenter', True),
    ('/**/rep_segmenter', '/gym/station1/rep_segmenter', True),
    ('/**/rep_segmenter', '/station1/imu_publisher', False),
    ('/*/rep_segmenter', '/station1/rep_segmenter', True),         # was: no
    ('/*/rep_segmenter', '/rep_segmenter', False),
    ('/*/rep_segmenter', '/gym/station1/rep_segmenter', False),
    ('/**/station1/rep_segmenter', '/gym/station1/rep_segmenter', True),   # was: no
    ('/station1/rep_segmenter', '/station1/rep_segmenter', True),  # was: no
    ('/station1/rep_segmenter', '/station2/rep_segmenter', False),
    ('/station1/*', '/station1/rep_segmenter', True),              # was: no
    ('/station1/*', '/gym/station1/rep_segmenter', False),
    ('/station1/**', '/station1/rep_segmenter', True),             # was: no
    ('/*', '/rep_segmenter', True),                                # was: no
    ('/*', '/station1/rep_segmenter', False),
    ('rep_segmenter', '/rep_segmenter', True),
    ('rep_segmenter', '/station1/rep_segmenter', False),           # was: yes
    ('/rep_segmenter', '/station1/rep_segmenter', False),          # was: yes
    ('/**/', '/rep_segmenter', False),                             # was: yes
    ('/rep_seg*', '/rep_segmenter', False),       # no partial wildcards
    ('/**/rep.segmenter', '/repXsegmenter', False),  # other characters are literal
]


def _split(fqn: str):
    namespace, _, name = fqn.rpartition('/')
    return namespace or '/', name


def _file_with(tmp_path: Path, key: str) -> Path:
    path = tmp_path / 'params.yaml'
    # An unknown parameter: the launcher refuses it exactly when the section applies.
    path.write_text(f'"{key}":\n  ros__parameters:\n    no_such_parameter: 1\n')
    return path


@pytest.mark.parametrize('key,fqn,applies', CASES)
def test_params_key_matches_rcl(key: str, fqn: str, applies: bool) -> None:
    assert params_key_matches(key, fqn) is applies


@pytest.mark.parametrize('key,fqn,applies', CASES)
def test_launcher_checks_the_sections_the_node_applies(tmp_path: Path, key: str, fqn: str,
                                                       applies: bool) -> None:
    path = _file_with(tmp_path, key)
    namespace, name = _split(fqn)
    nodes = [NodeLaunch('rep_segmenter', name=name)]
    if applies:
        with pytest.raises(LaunchError, match=f'parameter file {path}:.*no_such_parameter'):
            validate_params_file(path, nodes, namespace)
    else:
        validate_params_file(path, nodes, namespace)


@pytest.mark.skipif(BACKEND != 'dds', reason='DDS runtime internals')
@pytest.mark.parametrize('key,fqn,applies', CASES)
def test_dds_runtime_applies_the_same_sections(tmp_path: Path, key: str, fqn: str,
                                               applies: bool) -> None:
    from rep_coach.runtime.dds.params import resolve_overrides
    got = resolve_overrides([('file', str(_file_with(tmp_path, key)))], fqn)
    assert got == ({'no_such_parameter': 1} if applies else {})


NESTED = """
gym:
  station1:
    rep_segmenter:
      ros__parameters:
        model: baseline
  "*":
    rep_segmenter:
      ros__parameters:
        set_rest_s: 30.0
"""


def test_namespaces_nested_as_yaml_levels_apply_in_both(tmp_path: Path) -> None:
    path = tmp_path / 'nested.yaml'
    path.write_text(NESTED)
    # The launcher used to refuse the file ("section 'gym' lacks a ros__parameters mapping").
    validate_params_file(path, [NodeLaunch('rep_segmenter')], '/gym/station1')
    path.write_text(NESTED.replace('model: baseline', 'model: neural'))
    with pytest.raises(LaunchError, match="'model' = 'neural'"):
        validate_params_file(path, [NodeLaunch('rep_segmenter')], '/gym/station1')
    validate_params_file(path, [NodeLaunch('rep_segmenter')], '/gym/station2')


@pytest.mark.skipif(BACKEND != 'dds', reason='DDS runtime internals')
def test_dds_runtime_applies_namespaces_nested_as_yaml_levels(tmp_path: Path) -> None:
    from rep_coach.runtime.dds.params import resolve_overrides
    path = tmp_path / 'nested.yaml'
    path.write_text(NESTED)
    sources = [('file', str(path))]
    assert resolve_overrides(sources, '/gym/station1/rep_segmenter') == {
        'model': 'baseline', 'set_rest_s': 30.0}
    assert resolve_overrides(sources, '/gym/station2/rep_segmenter') == {'set_rest_s': 30.0}
    assert resolve_overrides(sources, '/station1/rep_segmenter') == {}


SHARED = """
/**:
  ros__parameters:
    use_sim_time: false
    playback_speed: 2.0
    set_rest_s: 30.0
"""


def test_a_wildcard_section_may_set_what_only_some_nodes_declare(tmp_path: Path) -> None:
    # rcl gives every node the /** values and each ignores what it does not declare; the
    # launcher refused this file ("rep_segmenter: ... 'playback_speed' ... unknown").
    path = tmp_path / 'shared.yaml'
    path.write_text(SHARED)
    graph = [NodeLaunch(name) for name in ('imu_publisher', 'rep_segmenter', 'audio_feedback')]
    validate_params_file(path, graph, '/station1')
    # A name no node declares is still a typo, and so is another node's parameter in a
    # section naming this node exactly.
    path.write_text(SHARED.replace('playback_speed', 'playbak_speed'))
    with pytest.raises(LaunchError, match="'playbak_speed'"):
        validate_params_file(path, graph, '/station1')
    path.write_text(SHARED.replace('/**', '/station1/rep_segmenter'))
    with pytest.raises(LaunchError, match="rep_segmenter: parameter 'playback_speed'"):
        validate_params_file(path, graph, '/station1')
