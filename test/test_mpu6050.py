"""Tests of the MPU-6050 driver against a fake I2C bus (no hardware here)."""

import struct

import numpy as np
import pytest

from rep_coach.core import mpu6050 as m
from rep_coach.core.units import DEG_TO_RAD, STANDARD_GRAVITY


class FakeBus:
    """Register file with the smbus2.SMBus methods the driver uses."""

    def __init__(self, who=0x68, fail_on=None):
        self.regs = {m.WHO_AM_I: who}
        self.writes = []
        self.fifo = bytearray()
        self.fail_on = fail_on
        self.closed = False

    def _check(self, reg):
        if self.fail_on is not None and reg == self.fail_on:
            raise OSError(121, 'Remote I/O error')

    def write_byte_data(self, addr, reg, value):
        self._check(reg)
        self.writes.append((addr, reg, value))
        self.regs[reg] = value

    def read_byte_data(self, addr, reg):
        self._check(reg)
        return self.regs.get(reg, 0)

    def read_i2c_block_data(self, addr, reg, length):
        self._check(reg)
        assert length <= 32
        if reg == m.FIFO_R_W:
            out, self.fifo = self.fifo[:length], self.fifo[length:]
            return list(out)
        if reg == m.FIFO_COUNTH:
            return [len(self.fifo) >> 8, len(self.fifo) & 0xFF]
        return [self.regs.get(reg + i, 0) for i in range(length)]

    def close(self):
        self.closed = True

    def set_sample(self, acc, temp, gyr):
        raw = struct.pack('>7h', *acc, temp, *gyr)
        for i, b in enumerate(raw):
            self.regs[m.ACCEL_XOUT_H + i] = b


def test_configuration_writes():
    bus = FakeBus()
    m.Mpu6050(bus=3, rate_hz=100, smbus=bus)
    regs = {reg: value for _, reg, value in bus.writes}
    assert all(addr == 0x68 for addr, _, _ in bus.writes)
    assert regs[m.PWR_MGMT_1] == 0x01                 # awake, PLL clock
    assert regs[m.SMPLRT_DIV] == 9                    # 1 kHz / (1 + 9) = 100 Hz
    assert regs[m.CONFIG] == 3                        # 44 Hz DLPF below Nyquist
    assert regs[m.ACCEL_CONFIG] == 2 << 3             # +-8 g
    assert regs[m.GYRO_CONFIG] == 2 << 3              # +-1000 deg/s
    assert regs[m.FIFO_EN] == 0x78
    assert bus.writes.index((0x68, m.PWR_MGMT_1, 1)) < bus.writes.index((0x68, m.SMPLRT_DIV, 9))


def test_decode_known_values():
    bus = FakeBus()
    dev = m.Mpu6050(smbus=bus, use_fifo=False)
    bus.set_sample((0x1000, -0x1000, 0), 1234, (328, -328, -32768))
    acc, gyr = dev.read_sample()
    np.testing.assert_allclose(acc, [STANDARD_GRAVITY, -STANDARD_GRAVITY, 0.0])
    np.testing.assert_allclose(gyr, [10 * DEG_TO_RAD, -10 * DEG_TO_RAD,
                                     -32768 / 32.8 * DEG_TO_RAD])
    block = dev.read_block()
    assert len(block) == 1 and block.accel[0, 0] == pytest.approx(9.80665)


@pytest.mark.parametrize('rng_g,lsb', [(2, 16384), (4, 8192), (8, 4096), (16, 2048)])
def test_accel_ranges(rng_g, lsb):
    s = m.settings_for(100, accel_range_g=rng_g)
    assert m.lsb_to_si(lsb, True, s) == pytest.approx(STANDARD_GRAVITY)
    assert m.lsb_to_si(-lsb, True, s) == pytest.approx(-STANDARD_GRAVITY)


def test_fifo_read_in_whole_records():
    bus = FakeBus()
    dev = m.Mpu6050(smbus=bus, clock=lambda: 10.0)
    for k in range(5):
        bus.fifo += struct.pack('>6h', 0x1000, 0, -0x1000, k * 33, 0, 0)
    bus.fifo += b'\x01\x02\x03'                 # a partial record stays for later
    block = dev.read_block()
    assert len(block) == 5
    np.testing.assert_allclose(block.t, 10.0 - np.arange(4, -1, -1) / 100.0)
    np.testing.assert_allclose(block.accel[:, 2], -STANDARD_GRAVITY)
    assert block.gyro[4, 0] == pytest.approx(4 * 33 / 32.8 * DEG_TO_RAD)
    assert len(bus.fifo) == 3


def test_fifo_overflow_resets():
    bus = FakeBus()
    dev = m.Mpu6050(smbus=bus)
    bus.regs[m.INT_STATUS] = m.INT_FIFO_OFLOW
    assert len(dev.read_block()) == 0 and dev.overflows == 1
    assert bus.writes[-1][1:] == (m.USER_CTRL, m.USER_FIFO_RESET | m.USER_FIFO_EN)


def test_who_am_i_mismatch():
    with pytest.raises(m.Mpu6050Error, match=r'/dev/i2c-1 at address 0x68.*WHO_AM_I is 0x70'):
        m.Mpu6050(smbus=FakeBus(who=0x70))


def test_io_error_names_bus_and_address():
    with pytest.raises(m.Mpu6050Error, match=r'/dev/i2c-4 at address 0x69.*0x6b'):
        m.Mpu6050(bus=4, address=0x69, smbus=FakeBus(fail_on=m.PWR_MGMT_1))
    bus = FakeBus()
    dev = m.Mpu6050(smbus=bus, use_fifo=False)
    bus.fail_on = m.ACCEL_XOUT_H
    with pytest.raises(m.Mpu6050Error, match='Remote I/O error'):
        dev.read_block()


def test_bad_settings_and_close():
    with pytest.raises(m.Mpu6050Error, match='accel_range_g'):
        m.Mpu6050(accel_range_g=3, smbus=FakeBus())
    with pytest.raises(m.Mpu6050Error, match='rate_hz'):
        m.Mpu6050(rate_hz=5000, smbus=FakeBus())
    bus = FakeBus()
    dev = m.Mpu6050(smbus=bus, rate_hz=370)
    assert dev.rate_hz == pytest.approx(1000 / 3)      # nearest divider (2)
    dev.close()
    assert bus.closed and bus.writes[-1][1:] == (m.PWR_MGMT_1, 0x40)
    with pytest.raises(m.Mpu6050Error, match='closed'):
        dev.read_block()


def test_decode_fifo_negative_values():
    s = m.settings_for(100, 8, 1000)
    acc, gyr = m.decode_fifo(bytes.fromhex('f000 0000 0000 ffff 0000 8000'), s)
    assert acc[0, 0] == pytest.approx(-STANDARD_GRAVITY)
    assert gyr[0, 0] == pytest.approx(-DEG_TO_RAD / 32.8)
    assert gyr[0, 2] == pytest.approx(-32768 * DEG_TO_RAD / 32.8)


def test_a_retry_after_a_read_error_configures_the_chip_again():
    # A brown-out puts the chip back in its reset state: asleep, FIFO off.  It then
    # answers reads with no samples, so the publisher's retry must configure it.
    from rep_coach.core.sources import Mpu6050Source, SourceError
    bus = FakeBus()
    source = Mpu6050Source(smbus=bus)
    assert len(next(source.blocks())) == 0
    bus.fail_on = m.INT_STATUS
    with pytest.raises(SourceError, match='Remote I/O error'):
        next(source.blocks())
    bus.fail_on, bus.regs = None, {m.WHO_AM_I: 0x68}        # back, in its reset state
    seen = len(bus.writes)
    retry = source.blocks()
    next(retry)
    redone = {reg: value for _, reg, value in bus.writes[seen:]}
    assert redone[m.PWR_MGMT_1] == 0x01 and redone[m.FIFO_EN] == 0x78
    seen = len(bus.writes)
    next(retry)                                  # configured once per retry, not per read
    assert len(bus.writes) == seen
