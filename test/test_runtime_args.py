"""ROS arguments, params files, parameter declaration and name resolution."""

from pathlib import Path

import pytest

from rep_coach.launcher import claim_domain
from rep_coach.runtime import BACKEND, Node, rclpy, remove_ros_args

pytestmark = pytest.mark.skipif(BACKEND != 'dds', reason='DDS runtime internals')

#: Held until the test process exits, so no parallel run shares it.
DOMAIN = claim_domain().domain

PARAMS_YAML = """
/**:
  ros__parameters:
    rate: 100.0
    label: all
/**/imu_publisher:
  ros__parameters:
    rate: 200.0
/station1/imu_publisher:
  ros__parameters:
    device:
      port: /dev/ttyUSB0
/*:
  ros__parameters:
    root_only: true
imu_publisher:
  ros__parameters:
    bare: 1
"""


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / 'params.yaml'
    path.write_text(PARAMS_YAML)
    return path


@pytest.fixture
def ros(monkeypatch: pytest.MonkeyPatch):
    """Initialize per test with the given args; always shut down."""
    monkeypatch.setenv('ROS_LOCALHOST_ONLY', '1')
    nodes = []

    def start(*ros_args: str) -> None:
        rclpy.init(args=['prog', '--ros-args', *ros_args], domain_id=DOMAIN)

    def node(*args, **kwargs) -> Node:
        created = Node(*args, **kwargs)
        nodes.append(created)
        return created

    start.node = node
    yield start
    for created in nodes:
        created.destroy_node()
    rclpy.try_shutdown()


def test_params_file_key_matching(params_file: Path) -> None:
    from rep_coach.runtime.dds.params import resolve_overrides

    sources = [('file', str(params_file))]
    assert resolve_overrides(sources, '/station1/imu_publisher') == {
        'rate': 200.0, 'label': 'all', 'device.port': '/dev/ttyUSB0'}
    assert resolve_overrides(sources, '/imu_publisher') == {
        'rate': 200.0, 'label': 'all', 'root_only': True, 'bare': 1}
    assert resolve_overrides(sources, '/station2/rep_segmenter') == {
        'rate': 100.0, 'label': 'all'}


def test_dash_p_types_and_precedence(ros, params_file: Path) -> None:
    ros('--params-file', str(params_file), '-p', 'rate:=50.0', '-p', 'count:=3',
        '-p', 'flag:=true', '-p', 'name:=hello', '-p', 'ints:=[1, 2]', '-p', "quoted:='7'",
        '-r', '__ns:=/station1')
    node = ros.node('imu_publisher')
    assert node.get_fully_qualified_name() == '/station1/imu_publisher'
    assert node.declare_parameter('rate', 1.0).value == 50.0  # -p after the file wins
    assert node.declare_parameter('count', 0).value == 3
    assert node.declare_parameter('flag', False).value is True
    assert node.declare_parameter('name', '').value == 'hello'
    assert node.declare_parameter('ints', [0]).value == [1, 2]
    assert node.declare_parameter('quoted', '').value == '7'
    assert node.declare_parameter('device.port', '').value == '/dev/ttyUSB0'
    assert node.declare_parameter('unset', 2.5).value == 2.5
    assert node.get_parameter('rate').name == 'rate'
    assert node.has_parameter('rate') and not node.has_parameter('nope')


#: Plain values as rcl types them (rcl_yaml_param_parser's get_value), where PyYAML's
#: YAML 1.1 disagreed: ``sink:=null`` (the documented audio sink) was refused as "no value".
RCL_TYPED = [('null', 'null'), ('~', '~'), ('1e-1', 0.1), ('5e-1', 0.5), ('1e9', 1e9),
             ('2025-03-14', '2025-03-14'), ('12:30', '12:30'), ('y', True), ('n', False),
             ('Off', False), ('0x68', 0x68), ('010', 8), ('.5', 0.5), ('-.inf', float('-inf')),
             ('1e999', '1e999'), ('"1"', '1'), ("'null'", 'null'), ('[1e-1, 5e-1]', [0.1, 0.5])]


@pytest.mark.parametrize('text, value', RCL_TYPED)
def test_values_are_typed_as_rcl_types_them(ros, tmp_path: Path, text: str,
                                            value: object) -> None:
    from rep_coach.runtime.dds.params import resolve_overrides

    ros('-p', f'x:={text}')
    default = value if not isinstance(value, list) else [0.0]
    assert ros.node('n').declare_parameter('x', default).value == value
    # A params file's values by the same rules; its keys stay names ('n', 'on', '1').
    path = tmp_path / 'p.yaml'
    path.write_text(f'/**:\n  ros__parameters:\n    x: {text}\n    n: 1\n    on: 2\n')
    assert resolve_overrides([('file', str(path))], '/n') == {'x': value, 'n': 1, 'on': 2}


def test_nan_is_a_double_as_rcl_reads_it(ros) -> None:
    import math

    ros('-p', 'x:=nan', '-p', 'y:=.NaN')
    node = ros.node('n')
    assert math.isnan(node.declare_parameter('x', 0.0).value)
    assert math.isnan(node.declare_parameter('y', 0.0).value)


def test_later_params_file_overrides_earlier(ros, tmp_path: Path, params_file: Path) -> None:
    second = tmp_path / 'second.yaml'
    second.write_text('/**:\n  ros__parameters:\n    rate: 7.0\n')
    ros('--params-file', str(params_file), '--params-file', str(second))
    assert ros.node('imu_publisher').declare_parameter('rate', 1.0).value == 7.0


def test_parameter_type_mismatch_names_parameter(ros) -> None:
    from rep_coach.runtime.dds.params import InvalidParameterTypeException

    ros('-p', 'rate:=5')
    node = ros.node('n')
    with pytest.raises(InvalidParameterTypeException, match="'rate'"):
        node.declare_parameter('rate', 10.0)


def test_declare_parameters_and_errors(ros) -> None:
    from rep_coach.runtime.dds.params import (
        ParameterAlreadyDeclaredException, ParameterNotDeclaredException)

    ros()
    node = ros.node('n')
    params = node.declare_parameters('imu', [('rate', 100.0), ('port', 'x')])
    assert [p.name for p in params] == ['imu.rate', 'imu.port']
    with pytest.raises(ParameterAlreadyDeclaredException):
        node.declare_parameter('imu.rate', 1.0)
    with pytest.raises(ParameterNotDeclaredException):
        node.get_parameter('missing')


@pytest.mark.parametrize('content', ['/**: [unclosed', '- just\n- a list\n'])
def test_malformed_params_file_names_file(tmp_path: Path, content: str) -> None:
    bad = tmp_path / 'bad.yaml'
    bad.write_text(content)
    with pytest.raises(ValueError, match='bad.yaml'):
        rclpy.init(args=['prog', '--ros-args', '--params-file', str(bad)], domain_id=DOMAIN)
    assert not rclpy.ok()


def test_missing_params_file_names_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='nope.yaml'):
        rclpy.init(args=['prog', '--ros-args', '--params-file', str(tmp_path / 'nope.yaml')],
                   domain_id=DOMAIN)


def test_unknown_ros_arg_is_an_error() -> None:
    with pytest.raises(ValueError, match='--bogus'):
        rclpy.init(args=['prog', '--ros-args', '--bogus'], domain_id=DOMAIN)


def test_remove_ros_args() -> None:
    argv = ['prog', 'a', '--ros-args', '-r', 'x:=y', '-p', 'a:=1', '--', 'b', '--ros-args',
            '--log-level', 'debug']
    assert remove_ros_args(argv) == ['prog', 'a', 'b']


def test_name_resolution_and_remaps(ros) -> None:
    from rep_coach.ros_names import dds_topic_name

    ros('-r', 'chatter:=talk', '-r', 'other:imu/data_raw:=/wrong', '-r', '__node:=renamed')
    node = ros.node('talker', namespace='station1')
    assert node.get_name() == 'renamed'
    assert node.get_namespace() == '/station1'
    assert node.resolve_topic_name('foo/bar') == '/station1/foo/bar'
    assert dds_topic_name(node.resolve_topic_name('foo/bar')) == 'rt/station1/foo/bar'
    assert node.resolve_topic_name('/abs') == '/abs'
    assert node.resolve_topic_name('~/private') == '/station1/renamed/private'
    assert node.resolve_topic_name('chatter') == '/station1/talk'
    assert node.resolve_topic_name('imu/data_raw') == '/station1/imu/data_raw'
    publisher = node.create_publisher(__import__('rep_coach.runtime.msg').runtime.msg.String,
                                      'chatter', 10)
    assert publisher.topic_name == '/station1/talk'


def test_invalid_names_raise(ros) -> None:
    ros()
    with pytest.raises(ValueError):
        ros.node('1bad')
    node = ros.node('good')
    for bad in ('a//b', 'a/', '1x', 'a b', ''):
        with pytest.raises(ValueError):
            node.resolve_topic_name(bad)


def test_log_level_and_format(ros, capfd: pytest.CaptureFixture) -> None:
    ros('--log-level', 'warn', '--log-level', 'station1.loud:=debug')
    quiet = ros.node('quiet', namespace='/station1')
    loud = ros.node('loud', namespace='/station1')
    quiet.get_logger().info('hidden')
    quiet.get_logger().warning('shown')
    loud.get_logger().debug('debugging')
    err = capfd.readouterr().err
    assert 'hidden' not in err
    assert '] [station1.quiet]: shown' in err
    assert '[DEBUG] [' in err and '[station1.loud]: debugging' in err
    import re
    assert re.search(r'^\[WARN\] \[\d+\.\d{9}\] \[station1\.quiet\]: shown$', err, re.M)


def test_clock_to_msg(ros) -> None:
    ros()
    now = ros.node('n').get_clock().now()
    msg = now.to_msg()
    assert msg.sec * 10**9 + msg.nanosec == now.nanoseconds


def test_cyclone_config_for_discovery_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    from rep_coach.runtime.dds.context import cyclone_config, discovery_range

    monkeypatch.setenv('ROS_LOCALHOST_ONLY', '1')
    assert discovery_range() == 'LOCALHOST'
    monkeypatch.delenv('ROS_LOCALHOST_ONLY')
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'off')
    assert discovery_range() == 'OFF'
    monkeypatch.delenv('ROS_AUTOMATIC_DISCOVERY_RANGE')
    assert discovery_range() == 'SUBNET'
    assert cyclone_config('SUBNET') is None
    local = cyclone_config('LOCALHOST', user_uri='file:///etc/user.xml')
    ours, user = local.split(',')
    assert '<AllowMulticast>false</AllowMulticast>' in ours
    assert '<Peer address="localhost"/>' in ours
    assert user == 'file:///etc/user.xml'  # appended last, so explicit user settings win
    off = cyclone_config('OFF')
    assert '<Peers>' not in off and '<Tag>ros_discovery_off_' in off
