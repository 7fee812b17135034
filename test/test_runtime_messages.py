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


def test_declared_idl_defaults_are_kept() -> None:
    # geometry_msgs/Quaternion declares ``float64 w 1``: rclpy builds the identity, and so
    # must the fallback, or the same node would record different bags on the two backends.
    orientation = Imu().orientation
    assert (orientation.x, orientation.y, orientation.z, orientation.w) == (0.0, 0.0, 0.0, 1.0)
    assert Imu().linear_acceleration.x == 0.0


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


# -- compiled codecs (rep_coach/runtime/dds/codec.py) -----------------------------------------

def _imu(frame_id: str, seed: int = 0) -> Imu:
    """Build an Imu whose every field differs, so a misplaced field cannot go unnoticed."""
    msg = Imu()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_700_000_000 + seed, 123_456_789
    msg.header.frame_id = frame_id
    values = iter(float(k) + 0.25 + seed for k in range(100))
    quat = msg.orientation
    quat.x, quat.y, quat.z, quat.w = next(values), next(values), next(values), next(values)
    for part in (msg.angular_velocity, msg.linear_acceleration):
        part.x, part.y, part.z = next(values), next(values), next(values)
    for name in ('orientation_covariance', 'angular_velocity_covariance',
                 'linear_acceleration_covariance'):
        setattr(msg, name, [next(values) for _ in range(9)])
    return msg


def _generic_serialize(msg: object) -> bytes:
    from cyclonedds.idl import IdlStruct

    return IdlStruct.serialize(msg)


def _samples() -> list:
    # frame ids of 0..9 bytes put the 8-byte fields after them at every alignment phase
    return ([_imu('x' * n, n) for n in range(10)] + [_imu('wrïst', 3)]
            + [String(data=t) for t in ('', 'a', 'héllo', '{"rep": 1}' * 30)]
            + [Header(frame_id='abc'), Time(sec=-5, nanosec=7), Float32(data=-2.5),
               Image(height=2, width=3, encoding='mono8', step=3, data=bytes(range(6))),
               CompressedImage(format='jpeg', data=b'\xff\xd8\x00')])


@pytest.mark.parametrize('msg', _samples())
def test_compiled_codec_writes_the_generic_bytes_and_reads_them_back(msg: object) -> None:
    cls = type(msg)
    assert 'serialize' in vars(cls) and 'deserialize' in vars(cls)  # compiled for this type
    data = msg.serialize()
    assert data == _generic_serialize(msg)
    back = cls.deserialize(data)
    assert back == msg and back == cls.__idl__.deserialize(data)
    assert type(back) is cls


@pytest.mark.parametrize('frame_id', ['', 'imu', 'imu_link'])
def test_imu_wire_format_matches_an_independent_cdr_codec(frame_id: str) -> None:
    """The CDR serializer of rosbags (not cyclonedds) produces and reads the same bytes."""
    np = pytest.importorskip('numpy')
    from rosbags.typesys import get_typestore, Stores

    store = get_typestore(Stores.ROS2_HUMBLE)
    T = store.types  # noqa: N806
    msg = _imu(frame_id, 1)
    theirs = T['sensor_msgs/msg/Imu'](
        header=T['std_msgs/msg/Header'](
            stamp=T['builtin_interfaces/msg/Time'](sec=msg.header.stamp.sec,
                                                   nanosec=msg.header.stamp.nanosec),
            frame_id=frame_id),
        orientation=T['geometry_msgs/msg/Quaternion'](
            x=msg.orientation.x, y=msg.orientation.y, z=msg.orientation.z,
            w=msg.orientation.w),
        orientation_covariance=np.array(msg.orientation_covariance),
        angular_velocity=T['geometry_msgs/msg/Vector3'](
            x=msg.angular_velocity.x, y=msg.angular_velocity.y, z=msg.angular_velocity.z),
        angular_velocity_covariance=np.array(msg.angular_velocity_covariance),
        linear_acceleration=T['geometry_msgs/msg/Vector3'](
            x=msg.linear_acceleration.x, y=msg.linear_acceleration.y,
            z=msg.linear_acceleration.z),
        linear_acceleration_covariance=np.array(msg.linear_acceleration_covariance))
    raw = bytes(store.serialize_cdr(theirs, 'sensor_msgs/msg/Imu'))
    assert msg.serialize() == raw
    assert Imu.deserialize(raw) == msg


def test_big_endian_and_xcdr2_data_take_the_generic_path() -> None:
    from cyclonedds.idl import IdlStruct
    from cyclonedds.idl._support import Endianness

    msg = _imu('imu_link', 2)
    big = IdlStruct.serialize(msg, endianness=Endianness.Big)
    assert big[:2] == b'\x00\x00'
    assert Imu.deserialize(big) == msg
    assert msg.serialize(endianness=Endianness.Big) == big
    xcdr2 = msg.serialize(use_version_2=True)
    assert xcdr2[1] > 1 and Imu.deserialize(xcdr2) == msg


def test_compiled_codec_rejects_what_the_generic_one_rejects() -> None:
    msg = _imu('imu_link')
    msg.orientation_covariance = [0.0] * 8          # a fixed array of the wrong length
    with pytest.raises(Exception):
        msg.serialize()
    with pytest.raises(Exception):
        Imu.deserialize(_imu('imu_link').serialize()[:100])   # truncated
    assert 'serialize' not in vars(DiagnosticArray)   # sequences of structs stay generic
