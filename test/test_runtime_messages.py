"""Generated message classes: construction, wire format, names and type hashes."""

import time

import pytest

from rep_coach.runtime import BACKEND
from rep_coach.runtime.msg import (
    CompressedImage, DiagnosticArray, DiagnosticStatus, Float32, Header, Image, Imu, KeyValue,
    String, Time)

pytestmark = pytest.mark.skipif(BACKEND != 'dds', reason='DDS message generation only')


def test_default_construction_and_nested_assignment() -> None:
    msg = Imu()
    msg.header.stamp.sec = 3
    msg.header.frame_id = 'wrist'
    msg.orientation_covariance[0] = -1.0
    msg.linear_acceleration.z = 9.81
    assert msg.header.stamp.sec == 3
    assert msg.orientation_covariance == [-1.0] + [0.0] * 8
    # Defaults are per instance, never shared between messages.
    assert Imu().orientation_covariance[0] == 0.0
    assert Imu().header is not Imu().header


def test_numpy_values_are_accepted() -> None:
    np = pytest.importorskip('numpy')
    msg = Imu()
    msg.angular_velocity_covariance = np.zeros(9)
    msg.angular_velocity_covariance[4] = 2.0
    back = Imu.deserialize(msg.serialize())
    assert back.angular_velocity_covariance[4] == 2.0
    image = Image(data=np.arange(12, dtype=np.uint8))
    assert Image.deserialize(image.serialize()).data == bytes(range(12))


@pytest.mark.parametrize('msg', [
    Imu(), String(data='héllo'), Float32(data=1.5), Header(frame_id='x'),
    CompressedImage(format='jpeg', data=b'\xff\xd8'),
    DiagnosticArray(status=[DiagnosticStatus(level=DiagnosticStatus.WARN, name='imu',
                                             values=[KeyValue(key='dropped', value='3')])]),
])
def test_xcdr1_round_trip(msg: object) -> None:
    data = msg.serialize()
    assert data[:2] == b'\x00\x01'  # CDR little endian = XCDR1, what rmw_cyclonedds sends
    assert type(msg).deserialize(data) == msg


def test_byte_fields_behave_like_rclpy() -> None:
    assert DiagnosticStatus.ERROR == b'\x02'
    status = DiagnosticStatus(level=DiagnosticStatus.ERROR)
    assert DiagnosticStatus.deserialize(status.serialize()).level == DiagnosticStatus.ERROR
    status.level = 1  # an int is accepted too
    assert DiagnosticStatus.deserialize(status.serialize()).level == b'\x01'


def test_image_bytes_are_fast() -> None:
    image = Image(height=480, width=640, encoding='rgb8', step=640 * 3,
                  data=bytes(640 * 480 * 3))
    start = time.perf_counter()
    back = Image.deserialize(image.serialize())
    assert time.perf_counter() - start < 0.1
    assert isinstance(back.data, bytes) and len(back.data) == 640 * 480 * 3


def test_type_names_and_hashes_come_from_rosbags() -> None:
    from rosbags.typesys import get_typestore, Stores

    from rep_coach.runtime.dds.messages import dds_type_name, ros_type_name, type_hash

    store = get_typestore(Stores.ROS2_HUMBLE)
    assert dds_type_name(Imu) == 'sensor_msgs::msg::dds_::Imu_'
    assert dds_type_name(Time) == 'builtin_interfaces::msg::dds_::Time_'
    assert ros_type_name(DiagnosticArray) == 'diagnostic_msgs/msg/DiagnosticArray'
    for cls in (Imu, String, DiagnosticArray, Image):
        assert type_hash(cls) == store.hash_rihs01(ros_type_name(cls))
        assert type_hash(cls).startswith('RIHS01_')


def test_structs_are_final_and_keyless() -> None:
    Imu.__idl__.populate()
    assert Imu.__idl__.keyless
    assert Imu.__idl_annotations__.get('extensibility') == 'final'
