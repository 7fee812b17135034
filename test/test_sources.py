"""Tests of source specs, CSV/bag replay and pacing."""

from pathlib import Path

import numpy as np
import pytest

from rep_coach.core.sim import SimConfig
from rep_coach.core.sources import (open_source, Pacer, parse_spec, read_our_csv,
                                    RecordingSource, SourceError, write_our_csv)
from rep_coach.core.types import ImuBlock, ImuRecording, RepLabel, SetLabels


def _drain(source):
    return ImuBlock.concat(list(source.blocks()))


def test_parse_spec():
    assert parse_spec('sim') == ('sim', '', {})
    assert parse_spec('sim:exercise=hammer_curl, sets=2,seed=3') == \
        ('sim', '', {'exercise': 'hammer_curl', 'sets': '2', 'seed': '3'})
    assert parse_spec('csv:/a/b:c,d.csv') == ('csv', '/a/b:c,d.csv', {})
    assert parse_spec('mpu6050:bus=0,address=0x69')[2] == {'bus': '0', 'address': '0x69'}


@pytest.mark.parametrize('spec,match', [
    ('', 'empty'), ('udp:1234', "unknown kind 'udp'"), ('csv:', 'needs a path'),
    ('sim:sets', "'sets' is not key=value"), ('sim:reps=3', "unknown sim option 'reps'"),
    ('sim:sets=x', 'sets'), ('csv:/nonexistent/x.csv', '/nonexistent/x.csv: no such file'),
    ('bag:/nonexistent/bag', 'no such bag'), ('mpu6050:speed=3', 'unknown mpu6050 option'),
    ('mpu6050:address=zz', 'address'),
])
def test_spec_errors_name_the_culprit(spec, match):
    with pytest.raises(SourceError, match=match):
        open_source(spec)


def test_sim_source_uses_defaults_and_spec_overrides():
    base = SimConfig(seed=7, sets=3, rest_s=5)
    src = open_source('sim:sets=1,reps_to_failure=6', sim_defaults=base)
    assert src.config.seed == 7 and src.config.sets == 1
    block = _drain(src)
    assert len(block) > 0 and len(src.labels()) == 1 and len(src.labels()[0].reps) == 6
    again = _drain(src)
    np.testing.assert_array_equal(block.accel, again.accel)


def test_our_csv_roundtrip(tmp_path):
    t = np.arange(50) / 100.0
    block = ImuBlock(t, np.random.default_rng(0).normal(size=(50, 3)), np.ones((50, 3)))
    path = tmp_path / 'rec.csv'
    write_our_csv(path, block, comment='units: s, m/s^2, rad/s')
    src = open_source(f'csv:{path}')
    out = _drain(src)
    np.testing.assert_allclose(out.accel, block.accel, rtol=1e-8)
    assert src.rate_hz == pytest.approx(100.0) and src.labels() is None


@pytest.mark.parametrize('body,match', [
    ('t,ax,ay,az,gx,gy,gz\n0,0,0,9.8,0,0,0\n0.01,0,0,9.8,0', r'bad\.csv:3: expected 7'),
    ('t,ax,ay,az,gx,gy,gz\n0,0,0,9.8,0,0,0\n0.01,0,x,9.8,0,0,0\n', r'bad\.csv:3: non-numeric'),
    ('time,a\n1,2\n', r'bad\.csv:1: expected the header'),
    ('', r'bad\.csv: empty'),
    ('# only a comment\nt,ax,ay,az,gx,gy,gz\n', 'no samples'),
])
def test_garbled_csv_names_file_and_line(tmp_path, body, match):
    path = tmp_path / 'bad.csv'
    path.write_text(body)
    with pytest.raises(SourceError, match=match):
        read_our_csv(path) if body else open_source(f'csv:{path}')


def test_binary_file_is_a_clear_error(tmp_path):
    path = tmp_path / 'bin.csv'
    path.write_bytes(b'\xff\xfe\x00garbage\x00')
    with pytest.raises(SourceError, match='bin.csv'):
        open_source(f'csv:{path}')


def test_thomas2025_csv_replay_with_labels(thomas2025_dir: Path):
    files = sorted((thomas2025_dir / 'Raw Data').glob('*.csv'))
    from rep_coach.core.thomas2025 import read_rep_indexes
    names = read_rep_indexes(thomas2025_dir / 'rep_indexes_corrected.txt')
    path = next(p for p in files if p.stem in names)
    src = open_source(f'csv:{path}')
    assert src.rate_hz == pytest.approx(370.37, abs=0.01)
    block = _drain(src)
    assert abs(np.median(np.linalg.norm(block.accel, axis=1)) - 9.81) < 1.0
    labels = src.labels()
    assert labels and len(labels[0].reps) == len(names[path.stem].boundaries) - 1


def test_trigno_csv_outside_the_layout_has_no_labels(thomas2025_dir: Path, tmp_path):
    src_file = sorted((thomas2025_dir / 'Raw Data').glob('*.csv'))[0]
    copy = tmp_path / src_file.name
    data = src_file.read_bytes()[:200_000]
    copy.write_bytes(data[:data.rindex(b'\n') + 1])
    src = open_source(f'csv:{copy}')
    assert src.labels() is None and len(_drain(src)) > 0
    # Cut inside the last row: only that row is lost; inside an earlier one: an error.
    rows = len(_drain(src))
    copy.write_bytes(data[:data.rindex(b',')])
    assert len(_drain(open_source(f'csv:{copy}'))) == rows
    lines = data[:data.rindex(b'\n') + 1].split(b'\n')
    lines[-3] = lines[-3][:lines[-3].index(b',')]
    copy.write_bytes(b'\n'.join(lines))
    with pytest.raises(SourceError, match=rf'{copy.name}:\d+: malformed IMU row: 1 fields'):
        open_source(f'csv:{copy}')


def _labelled_recording():
    t = np.arange(1000) / 100.0
    reps = [RepLabel(101.0, 103.0, 102.0, 8.0, 2), RepLabel(103.5, 106.0, 104.5, 9.0, 1),
            RepLabel(106.5, 109.0, 107.5, 10.0, 0)]
    return ImuRecording('r', ImuBlock(100 + t, np.zeros((1000, 3)), np.zeros((1000, 3))),
                        100.0, [SetLabels(reps)])


def test_pacer_real_time_schedule_without_drift():
    src = RecordingSource(_labelled_recording(), 'test')
    pacer = Pacer(src, speed=1.0, epoch=5000.0, start=0.0, clock=lambda: 0.0)
    total, stamps, reps = 0, [], []
    for k in range(0, 1001):                 # a 100 Hz timer, 10 s
        due = pacer.due(now=k * 0.01 + 0.0005)
        total += len(due.block)
        stamps.extend(due.block.t)
        reps.extend(due.reps)
        if k < 1000:
            assert total == k + 1            # exactly the samples due, never ahead
    assert total == 1000 and due.done
    assert stamps[0] == pytest.approx(5000.0) and stamps[-1] == pytest.approx(5009.99)
    assert [r.rep_index for r in reps] == [1, 2, 3]
    # labels shifted like the samples: recording starts at t = 100, rep 1 ends at 3.0
    assert reps[0].end == pytest.approx(5003.0) and reps[0].start == pytest.approx(5001.0)


def test_pacer_speed_and_late_ticks():
    src = RecordingSource(_labelled_recording(), 'test')
    pacer = Pacer(src, speed=2.0, start=0.0, clock=lambda: 0.0, max_block=10_000)
    assert len(pacer.due(now=1.0).block) == 201        # 2 s of data after 1 s at 2x
    assert len(pacer.due(now=1.0).block) == 0
    fast = Pacer(RecordingSource(_labelled_recording(), 't'), speed=0, start=0.0,
                 clock=lambda: 0.0, max_block=300)
    sizes = []
    while True:
        due = fast.due(now=0.0)
        sizes.append(len(due.block))
        if due.done:
            break
    assert sum(sizes) == 1000 and max(sizes) == 300


def test_pacer_as_fast_as_possible_reads_only_what_the_next_block_needs():
    # Before: speed 0 read the whole source into its buffer on the first tick, block by
    # block with a growing concatenation: 19 s for a 20-minute recording.
    src = RecordingSource(_labelled_recording(), 't')
    read = []
    blocks = src.blocks
    src.blocks = lambda: (read.append(len(b)) or b for b in blocks())  # type: ignore
    fast = Pacer(src, speed=0, start=0.0, clock=lambda: 0.0, max_block=100)
    assert len(fast.due(now=0.0).block) == 100
    assert sum(read) < 300 < 1000


def test_pacer_loop_continues_the_timeline_and_set_numbers():
    pacer = Pacer(RecordingSource(_labelled_recording(), 't'), speed=0, loop=True,
                  epoch=0.0, start=0.0, clock=lambda: 0.0, max_block=500)
    blocks, reps = [], []
    for _ in range(5):
        due = pacer.due(now=0.0)
        blocks.append(due.block)
        reps.extend(due.reps)
        assert not due.done
    t = ImuBlock.concat(blocks).t
    assert len(t) == 2500 and np.allclose(np.diff(t), 0.01)
    assert [r.set_index for r in reps] == [1, 1, 1, 2, 2, 2, 3]
    assert reps[3].start == pytest.approx(10.0 + 1.0)


def test_pacer_sim_labels_come_after_their_samples():
    src = open_source('sim:seed=2,reps_to_failure=6,lead_in_s=1,tail_s=1')
    pacer = Pacer(src, speed=0, epoch=1000.0, start=0.0, clock=lambda: 0.0)
    last, reps = None, []
    while True:
        due = pacer.due(now=0.0)
        if len(due.block):
            last = due.block.t[-1]
        for rep in due.reps:
            assert rep.end <= last
            reps.append(rep)
        if due.done:
            break
    assert len(reps) == 6 and reps[-1].rir == 0 and reps[0].start > 1000.0


def test_bag_replay(tmp_path):
    rosbags = pytest.importorskip('rosbags')
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import get_typestore, Stores
    del rosbags
    store = get_typestore(Stores.ROS2_HUMBLE)
    Imu = store.types['sensor_msgs/msg/Imu']
    Header = store.types['std_msgs/msg/Header']
    Time = store.types['builtin_interfaces/msg/Time']
    Vec = store.types['geometry_msgs/msg/Vector3']
    Quat = store.types['geometry_msgs/msg/Quaternion']
    String = store.types['std_msgs/msg/String']
    path = tmp_path / 'bag'
    with Writer(path, version=8) as writer:
        imu = writer.add_connection('/station1/imu/data_raw', Imu.__msgtype__, typestore=store)
        lab = writer.add_connection('/station1/labels/reps', String.__msgtype__,
                                    typestore=store)
        for i in range(200):
            ns = 10_000_000_000 + i * 10_000_000
            msg = Imu(Header(Time(ns // 10**9, ns % 10**9), 'imu_link'),
                      Quat(0.0, 0.0, 0.0, 1.0), np.zeros(9), Vec(0.1 * i, 0.0, 0.0),
                      np.zeros(9), Vec(0.0, 0.0, 9.81), np.zeros(9))
            writer.write(imu, ns, store.serialize_cdr(msg, Imu.__msgtype__))
        label = ('{"set_index":1,"rep_index":1,"start":10.2,"end":11.5,"peak":10.8,'
                 '"rpe":9.0,"rir":1,"v":1}')
        writer.write(lab, 11_600_000_000, store.serialize_cdr(String(label),
                                                              String.__msgtype__))
    src = open_source(f'bag:{path}')
    block = _drain(src)
    assert len(block) == 200 and block.t[0] == pytest.approx(10.0)
    assert block.accel[5, 2] == pytest.approx(9.81) and block.gyro[5, 0] == pytest.approx(0.5)
    assert src.rate_hz == pytest.approx(100.0)
    assert src.labels()[0].reps[0].rir == 1


def test_garbled_bag_is_a_source_error(tmp_path):
    bag = tmp_path / 'broken'
    bag.mkdir()
    (bag / 'metadata.yaml').write_text('rosbag2_bagfile_information: [garbage')
    with pytest.raises(SourceError, match='broken'):
        open_source(f'bag:{bag}')


def test_mpu6050_spec_without_hardware_is_a_clear_error():
    with pytest.raises(SourceError, match=r'mpu6050: .*/dev/i2c-250'):
        open_source('mpu6050:bus=250')
