"""
The ROS launch file, checked without ROS against what the package really provides.

launch and launch_ros cannot be installed here, so minimal stand-ins record the
actions the launch file builds; the test then checks every node against the
executables setup.py installs, the parameter file against the parameter tables,
and the arguments the issue asks for.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
import sys
import types
from typing import Any, Dict, List

import pytest
from rep_coach.core.params import NODE_PARAMS
from rep_coach.launcher import DRAIN_S, GRAPH
from rep_coach.ros_names import params_key_matches
from rep_coach.topics import TOPIC_TYPES
import yaml

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILE = ROOT / 'launch' / 'rep_coach.launch.py'


class _Action:

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs


class _LaunchConfiguration:

    def __init__(self, name: str) -> None:
        self.name = name

    def perform(self, context: '_Context') -> str:
        return context.launch_configurations[self.name]


class _Context:

    def __init__(self, values: Dict[str, str]) -> None:
        self.launch_configurations = values


def _fake_modules(share: Path) -> Dict[str, types.ModuleType]:
    launch = types.ModuleType('launch')
    launch.LaunchDescription = lambda entities: list(entities)
    actions = types.ModuleType('launch.actions')
    for name in ('DeclareLaunchArgument', 'ExecuteProcess', 'OpaqueFunction', 'Shutdown',
                 'TimerAction'):
        setattr(actions, name, type(name, (_Action,), {}))
    substitutions = types.ModuleType('launch.substitutions')
    substitutions.LaunchConfiguration = _LaunchConfiguration
    launch_ros = types.ModuleType('launch_ros')
    ros_actions = types.ModuleType('launch_ros.actions')
    ros_actions.Node = type('Node', (_Action,), {})
    ament = types.ModuleType('ament_index_python')
    packages = types.ModuleType('ament_index_python.packages')
    packages.get_package_share_directory = lambda pkg: str(share)
    return {'launch': launch, 'launch.actions': actions, 'launch.substitutions': substitutions,
            'launch_ros': launch_ros, 'launch_ros.actions': ros_actions,
            'ament_index_python': ament, 'ament_index_python.packages': packages}


@pytest.fixture()
def launch_module(monkeypatch: pytest.MonkeyPatch):
    for name, module in _fake_modules(ROOT).items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location('rep_coach_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _evaluate(module, **overrides: str) -> tuple:
    description = module.generate_launch_description()
    declared = {a.args[0]: a.kwargs.get('default_value') for a in description
                if type(a).__name__ == 'DeclareLaunchArgument'}
    values = dict(declared, **overrides)
    opaque = [a for a in description if type(a).__name__ == 'OpaqueFunction']
    assert len(opaque) == 1
    actions = opaque[0].kwargs['function'](_Context(values))
    return declared, actions


def _console_scripts() -> List[str]:
    tree = ast.parse((ROOT / 'setup.py').read_text())
    nodes = next(n for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 and getattr(n.targets[0], 'id', '') == 'NODES')
    return [elt.value for elt in nodes.value.elts]


def test_declares_the_issue_arguments(launch_module) -> None:
    declared, _ = _evaluate(launch_module)
    assert set(declared) == {'params_file', 'namespace', 'source', 'record', 'bag_dir'}
    assert declared['params_file'].endswith('config/rep_coach.yaml')


def test_nodes_are_installed_executables_with_the_params_file(launch_module) -> None:
    _, actions = _evaluate(launch_module, record='false')
    nodes = [a.kwargs for a in actions if type(a).__name__ == 'Node']
    assert [n['executable'] for n in nodes] == list(GRAPH)
    scripts = _console_scripts()
    for node in nodes:
        assert node['package'] == 'rep_coach'
        assert node['executable'] in scripts
        assert node['executable'] in NODE_PARAMS
        assert node['parameters'][0].endswith('rep_coach.yaml')
    assert not [a for a in actions if type(a).__name__ == 'ExecuteProcess']


def test_source_and_namespace_reach_the_nodes(launch_module) -> None:
    _, actions = _evaluate(launch_module, record='false', namespace='station3',
                           source='csv:/data/set.csv')
    nodes = {a.kwargs['executable']: a.kwargs for a in actions if type(a).__name__ == 'Node'}
    assert all(n['namespace'] == 'station3' for n in nodes.values())
    assert nodes['imu_publisher']['parameters'][1] == {'source': 'csv:/data/set.csv'}
    assert len(nodes['rep_segmenter']['parameters']) == 1


def test_record_runs_ros2_bag_record_mcap_on_every_topic(launch_module, tmp_path) -> None:
    bag_dir = tmp_path / 'bags'
    _, actions = _evaluate(launch_module, record='true', namespace='station3',
                           bag_dir=str(bag_dir))
    records = [a.kwargs['cmd'] for a in actions if type(a).__name__ == 'ExecuteProcess']
    assert len(records) == 1
    cmd = records[0]
    assert cmd[:6] == ['ros2', 'bag', 'record', '-s', 'mcap', '-o']
    assert cmd[6].startswith(str(bag_dir / 'rep_coach_station3_'))   # stations share bag_dir
    assert cmd[7:] == [f'/station3/{topic}' for topic in TOPIC_TYPES]
    assert (bag_dir.stat().st_mode & 0o777) == 0o700


@pytest.mark.parametrize('namespace, recorded', [('station3', '/gym/station3'), ('', '/gym'),
                                                 ('/station3', '/station3')])
def test_record_follows_a_pushed_namespace(launch_module, tmp_path, namespace: str,
                                           recorded: str) -> None:
    # Included under PushRosNamespace('gym'), launch_ros puts a relative node namespace
    # under it; the bag recorded the unprefixed topics, so nothing.
    _, actions = _evaluate(launch_module, record='true', namespace=namespace,
                           bag_dir=str(tmp_path / 'bags'), ros_namespace='/gym')
    cmd = next(a.kwargs['cmd'] for a in actions if type(a).__name__ == 'ExecuteProcess')
    assert cmd[7:] == [f'{recorded}/{topic}' for topic in TOPIC_TYPES]
    label = recorded.strip('/').replace('/', '.')
    assert Path(cmd[6]).name.startswith(f'rep_coach_{label}_')


class _ProcessExited:
    """The two fields of launch.events.process.ProcessExited that on_exit handlers read."""

    def __init__(self, process_name: str, returncode: int) -> None:
        self.process_name = process_name
        self.returncode = returncode


@pytest.mark.parametrize('record', ['true', 'false'])
def test_every_process_shuts_the_launch_down_when_it_exits(launch_module, tmp_path,
                                                           record: str) -> None:
    # Without on_exit, ros2 launch kept the graph running after a node failed at start.
    _, actions = _evaluate(launch_module, record=record, bag_dir=str(tmp_path / 'bags'))
    processes = [a for a in actions if type(a).__name__ in ('Node', 'ExecuteProcess')]
    assert len(processes) == len(GRAPH) + (record == 'true')
    for process in processes:
        on_exit = process.kwargs['on_exit']
        failed = on_exit(_ProcessExited('imu_publisher-1', 2), None)
        assert [type(a).__name__ for a in failed] == ['Shutdown']
        reason = failed[0].kwargs['reason']
        assert 'imu_publisher-1 failed (exit code 2)' in reason, reason
        finished = on_exit(_ProcessExited('imu_publisher-1', 0), None)
        assert [type(a).__name__ for a in finished] == ['TimerAction']
        assert finished[0].kwargs['period'] == DRAIN_S
        assert [type(a).__name__ for a in finished[0].kwargs['actions']] == ['Shutdown']


@pytest.mark.parametrize('namespace', ['', '/station1', '/gym/station1'])
def test_params_file_sections_match_the_parameter_tables(namespace: str) -> None:
    data = yaml.safe_load((ROOT / 'config' / 'rep_coach.yaml').read_text())
    for node, specs in NODE_PARAMS.items():
        sections = [v['ros__parameters'] for k, v in data.items()
                    if params_key_matches(k, f'{namespace}/{node}')]
        assert len(sections) == 1, node
        assert sections[0] == {s.name: s.default for s in specs}, node


def _imports() -> Dict[str, Path]:
    """Top-level modules outside the standard library that the code and launch file import."""
    found: Dict[str, Path] = {}
    for path in sorted((ROOT / 'rep_coach').rglob('*.py')) + [LAUNCH_FILE]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     and not node.level else [])
            for name in names:
                top = name.split('.')[0]
                if top not in sys.stdlib_module_names and top != 'rep_coach':
                    found.setdefault(top, path)
    return found


def _is_ros_package(module: str) -> bool:
    return (module in ('rclpy', 'launch', 'launch_ros', 'ament_index_python')
            or module.endswith(('_msgs', '_interfaces')))


def _ros_imports() -> Dict[str, Path]:
    """Top-level ROS packages that the package's code and launch file import."""
    return {name: path for name, path in _imports().items() if _is_ros_package(name)}


#: The rosdep key that installs each third-party module the code imports, or why none is
#: declared.  A module missing here fails the test below: someone must decide.
PYTHON_DEPENDENCIES: Dict[str, str] = {
    'numpy': 'python3-numpy', 'scipy': 'python3-scipy', 'yaml': 'python3-yaml',
    'ruamel': 'python3-ruamel.yaml', 'smbus2': 'python3-smbus2', 'tqdm': 'python3-tqdm',
    'onnxruntime': 'python3-onnxruntime-pip', 'matplotlib': 'python3-matplotlib',
    'cv2': 'python3-opencv',
    'rosbags': 'no rosdep key: pip (README); bag tools without ROS',
    'cyclonedds': 'only where rclpy is missing (the fallback runtime)',
    'mediapipe': 'no rosdep key: pip install rep_coach[pose] (form_coach, optional)',
    'sounddevice': 'optional audio extra; aplay (alsa-utils) is the default sink',
    'torch': 'training only (the train extra), never at run time',
    'onnx': 'training only (the train extra): export',
    'lz4': 'optional MCAP chunk codec, imported only for such a bag (rosbags brings it)',
    'compression': 'Python 3.14 standard library zstd, tried first',
    'backports': 'backports.zstd for older Pythons, optional like lz4',
}


def test_package_xml_declares_every_python_dependency_the_code_imports() -> None:
    import xml.etree.ElementTree as ET
    root = ET.parse(ROOT / 'package.xml').getroot()
    declared = {el.text for el in root if el.tag in ('depend', 'exec_depend')}
    third_party = {name: path for name, path in _imports().items()
                   if not _is_ros_package(name)}
    assert {'numpy', 'ruamel'} <= set(third_party)     # the scan sees them
    undecided = {name: str(path.relative_to(ROOT)) for name, path in third_party.items()
                 if name not in PYTHON_DEPENDENCIES}
    assert not undecided, f'imported, with no rosdep decision in this test: {undecided}'
    missing = {name: PYTHON_DEPENDENCIES[name] for name in third_party
               if PYTHON_DEPENDENCIES[name].startswith('python3-')
               and PYTHON_DEPENDENCIES[name] not in declared}
    assert not missing, f'imported but their rosdep keys are not in package.xml: {missing}'


def test_package_xml_declares_every_ros_package_the_code_imports() -> None:
    import xml.etree.ElementTree as ET
    root = ET.parse(ROOT / 'package.xml').getroot()
    assert root.get('format') == '3'
    declared = {el.text for el in root if el.tag in ('depend', 'exec_depend')}
    imported = _ros_imports()
    assert {'rclpy', 'sensor_msgs', 'launch_ros'} <= set(imported)   # the scan sees them
    missing = {name: str(path.relative_to(ROOT)) for name, path in imported.items()
               if name not in declared}
    assert not missing, f'imported but not in package.xml: {missing}'
