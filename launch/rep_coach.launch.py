"""
Start the rep_coach graph on a ROS 2 machine: ``ros2 launch rep_coach rep_coach.launch.py``.

Launch arguments:
  params_file  YAML in the ros__parameters layout (default: the installed config)
  namespace    namespace of every node and topic, one per gym station (default: none)
  source       IMU source overriding the YAML: sim, csv:PATH, bag:PATH, mpu6050
  record       true to record the session with ``ros2 bag record -s mcap``
  bag_dir      directory for session bags (created owner-only)

Every process is required: when one exits, the launch shuts down (at once if it failed,
``DRAIN_S`` later if it finished cleanly), as ``rep-coach launch`` does without ROS.  The
publisher is the only data source, the segmenter and classifier the only path to a cue,
audio_feedback the only output the lifter perceives, and a session the user asked to
record must not go unrecorded: a graph missing any of them only looks alive.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction, Shutdown
from launch.actions import TimerAction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from rep_coach.bag_names import default_bag_name
from rep_coach.launcher import DRAIN_S, node_failed, required_exit_reason
from rep_coach.topics import TOPIC_TYPES

#: The coaching graph; the recorder node is for machines without ROS, here
#: ``ros2 bag record`` records instead.
NODES = ('imu_publisher', 'rep_segmenter', 'near_failure_classifier', 'audio_feedback')
TRUE_VALUES = ('true', '1', 'yes', 'on')


def _fully_qualified(namespace: str, topic: str) -> str:
    namespace = namespace.strip('/')
    return f'/{namespace}/{topic}' if namespace else f'/{topic}'


def _nodes_namespace(context, namespace: str) -> str:
    """
    Return the namespace launch_ros gives the nodes: ``namespace`` under any pushed one.

    Included under ``PushRosNamespace`` (a gym's launch file grouping its stations), a
    Node's relative namespace is prefixed by the pushed one, which launch_ros keeps in
    the ``ros_namespace`` launch configuration; the bag must record those topics.
    """
    pushed = (context.launch_configurations.get('ros_namespace') or '').strip('/')
    if namespace.startswith('/') or not pushed:
        return namespace
    return f'/{pushed}/{namespace}' if namespace.strip('/') else f'/{pushed}'


def _required_exited(event, context):
    """Shut the launch down after a required process exited (its ``on_exit``)."""
    shutdown = Shutdown(reason=required_exit_reason(event.process_name, event.returncode))
    if node_failed(event.returncode):
        return [shutdown]
    # A clean finish (a finite source with shutdown_when_done): let the others handle
    # its last messages first.
    return [TimerAction(period=DRAIN_S, actions=[shutdown])]


def _launch_setup(context, *args, **kwargs):
    params_file = LaunchConfiguration('params_file').perform(context)
    namespace = LaunchConfiguration('namespace').perform(context)
    source = LaunchConfiguration('source').perform(context)
    record = LaunchConfiguration('record').perform(context).strip().lower() in TRUE_VALUES
    bag_dir = LaunchConfiguration('bag_dir').perform(context)

    actions = []
    for name in NODES:
        parameters = [params_file]
        if name == 'imu_publisher' and source:
            parameters.append({'source': source})
        actions.append(Node(package='rep_coach', executable=name, name=name,
                            namespace=namespace, parameters=parameters,
                            output='screen', emulate_tty=True, on_exit=_required_exited))
    if record:
        # Session bags hold personal training data: the parent directory is
        # owner-only, so the bag inside is unreadable to other users.
        os.makedirs(bag_dir, mode=0o700, exist_ok=True)
        os.chmod(bag_dir, 0o700)
        recorded = _nodes_namespace(context, namespace)
        bag = os.path.join(bag_dir, default_bag_name(recorded))
        topics = [_fully_qualified(recorded, topic) for topic in TOPIC_TYPES]
        actions.append(ExecuteProcess(
            cmd=['ros2', 'bag', 'record', '-s', 'mcap', '-o', bag] + topics,
            output='screen', on_exit=_required_exited))
    return actions


def generate_launch_description():
    """Declare the arguments and build the nodes once they are known."""
    default_params = os.path.join(get_package_share_directory('rep_coach'), 'config',
                                  'rep_coach.yaml')
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='YAML parameter file (ros__parameters layout)'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of the nodes and topics (gym station)'),
        DeclareLaunchArgument('source', default_value='',
                              description='IMU source overriding the YAML: sim, csv:PATH, '
                                          'bag:PATH or mpu6050'),
        DeclareLaunchArgument('record', default_value='true',
                              description='record the session with ros2 bag record (mcap)'),
        DeclareLaunchArgument('bag_dir', default_value='rep_coach_bags',
                              description='directory for the session bags'),
        OpaqueFunction(function=_launch_setup),
    ])
