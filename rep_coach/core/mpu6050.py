"""
InvenSense MPU-6050 6-axis IMU over I2C (``smbus2``), as on the published Pi system.

The hardware is behind an injectable ``bus`` object with the ``smbus2.SMBus``
methods used here (``write_byte_data``, ``read_byte_data``,
``read_i2c_block_data``, ``close``), so everything but the I2C transfer itself is
tested with a fake bus.  Register map: MPU-6000/6050 Register Map rev 4.2.

Units out: m/s^2 (specific force, i.e. gravity included) and rad/s, in the
chip's axes.  Any I/O error becomes :class:`Mpu6050Error` naming bus and address.
"""

from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Any, Callable, Optional, Tuple

import numpy as np

from rep_coach.core.types import ImuBlock
from rep_coach.core.units import DEG_TO_RAD, STANDARD_GRAVITY

# Registers
SMPLRT_DIV = 0x19
CONFIG = 0x1A
GYRO_CONFIG = 0x1B
ACCEL_CONFIG = 0x1C
FIFO_EN = 0x23
INT_STATUS = 0x3A
ACCEL_XOUT_H = 0x3B
USER_CTRL = 0x6A
PWR_MGMT_1 = 0x6B
FIFO_COUNTH = 0x72
FIFO_R_W = 0x74
WHO_AM_I = 0x75

WHO_AM_I_VALUE = 0x68
DEFAULT_ADDRESS = 0x68
#: PWR_MGMT_1: SLEEP cleared, clock from the X gyro PLL (more stable than the 8 MHz RC).
PWR_WAKE_PLL_X = 0x01
#: FIFO_EN: accelerometer and the three gyro axes; USER_CTRL bits.
FIFO_ACCEL_GYRO = 0x78
USER_FIFO_EN = 0x40
USER_FIFO_RESET = 0x04
INT_FIFO_OFLOW = 0x10
FIFO_BYTES_PER_SAMPLE = 12    # accel xyz, gyro xyz (temperature not queued)
FIFO_SIZE = 1024
#: smbus2 block reads are limited to 32 bytes.
_MAX_BLOCK = 32

#: full scale (g) -> (AFS_SEL, LSB per g)
ACCEL_RANGES = {2: (0, 16384.0), 4: (1, 8192.0), 8: (2, 4096.0), 16: (3, 2048.0)}
#: full scale (deg/s) -> (FS_SEL, LSB per deg/s)
GYRO_RANGES = {250: (0, 131.0), 500: (1, 65.5), 1000: (2, 32.8), 2000: (3, 16.4)}
#: DLPF_CFG -> accelerometer bandwidth (Hz); with the DLPF on the gyro runs at 1 kHz.
DLPF_BANDWIDTH = {1: 184.0, 2: 94.0, 3: 44.0, 4: 21.0, 5: 10.0, 6: 5.0}
_INTERNAL_RATE_DLPF = 1000.0


class Mpu6050Error(RuntimeError):
    """Configuration or I/O failure; the message names the bus and address."""


@dataclass(frozen=True)
class Mpu6050Settings:
    """Register values derived from the requested configuration."""

    smplrt_div: int
    dlpf_cfg: int
    afs_sel: int
    fs_sel: int
    accel_lsb_per_g: float
    gyro_lsb_per_dps: float
    rate_hz: float          # actual output data rate after rounding the divider


def settings_for(rate_hz: float, accel_range_g: int = 8, gyro_range_dps: int = 1000,
                 dlpf_cfg: Optional[int] = None) -> Mpu6050Settings:
    """
    Compute the register values for a sample rate and ranges; ValueError names the arg.

    The DLPF is always on (internal rate 1 kHz, so 4-1000 Hz reachable); by default
    its bandwidth is the widest one at or below half the sample rate, to limit
    aliasing of tremor and impacts.
    """
    if accel_range_g not in ACCEL_RANGES:
        raise ValueError(f'accel_range_g={accel_range_g!r}: must be one of '
                         f'{sorted(ACCEL_RANGES)}')
    if gyro_range_dps not in GYRO_RANGES:
        raise ValueError(f'gyro_range_dps={gyro_range_dps!r}: must be one of '
                         f'{sorted(GYRO_RANGES)}')
    if not (isinstance(rate_hz, (int, float)) and 3.9 <= rate_hz <= 1000.0):
        raise ValueError(f'rate_hz={rate_hz!r}: must be within 4..1000 Hz')
    div = int(min(255, max(0, round(_INTERNAL_RATE_DLPF / rate_hz - 1.0))))
    actual = _INTERNAL_RATE_DLPF / (1 + div)
    if dlpf_cfg is None:
        fitting = [c for c, bw in DLPF_BANDWIDTH.items() if bw <= actual / 2.0]
        dlpf_cfg = min(fitting) if fitting else 6
    elif dlpf_cfg not in DLPF_BANDWIDTH:
        raise ValueError(f'dlpf_cfg={dlpf_cfg!r}: must be 1..6')
    afs, a_lsb = ACCEL_RANGES[accel_range_g]
    fs, g_lsb = GYRO_RANGES[gyro_range_dps]
    return Mpu6050Settings(div, dlpf_cfg, afs, fs, a_lsb, g_lsb, actual)


def decode_sample(raw: bytes, settings: Mpu6050Settings) -> Tuple[np.ndarray, np.ndarray]:
    """
    Decode the 14 bytes from ACCEL_XOUT_H (accel, temperature, gyro; big-endian int16).

    Returns (accel m/s^2, gyro rad/s), each (3,).
    """
    if len(raw) != 14:
        raise ValueError(f'expected 14 bytes from ACCEL_XOUT_H, got {len(raw)}')
    words = np.frombuffer(bytes(raw), dtype='>i2').astype(np.float64)
    return _scale(words[0:3], words[4:7], settings)


def decode_fifo(raw: bytes, settings: Mpu6050Settings) -> Tuple[np.ndarray, np.ndarray]:
    """Decode whole 12-byte FIFO records (accel xyz, gyro xyz); returns (N, 3) arrays."""
    n = len(raw) // FIFO_BYTES_PER_SAMPLE
    words = np.frombuffer(bytes(raw[:n * FIFO_BYTES_PER_SAMPLE]), dtype='>i2')
    words = words.astype(np.float64).reshape(n, 6)
    return _scale(words[:, 0:3], words[:, 3:6], settings)


def _scale(acc: np.ndarray, gyr: np.ndarray,
           settings: Mpu6050Settings) -> Tuple[np.ndarray, np.ndarray]:
    return (acc * (STANDARD_GRAVITY / settings.accel_lsb_per_g),
            gyr * (DEG_TO_RAD / settings.gyro_lsb_per_dps))


def _open_smbus(bus: int) -> Any:
    import smbus2   # imported here so the module loads (and tests run) without it
    return smbus2.SMBus(bus)


class Mpu6050:
    """
    One MPU-6050; configures the chip on construction (wake, ranges, rate, FIFO).

    ``bus`` is the I2C bus number (``/dev/i2c-N``) used to open ``smbus2.SMBus``
    unless ``smbus`` (an already open SMBus-like object, e.g. a test fake) is given.
    ``clock`` (monotonic seconds) stamps the samples.
    """

    def __init__(self, bus: int = 1, address: int = DEFAULT_ADDRESS, rate_hz: float = 100.0,
                 accel_range_g: int = 8, gyro_range_dps: int = 1000,
                 dlpf_cfg: Optional[int] = None, use_fifo: bool = True,
                 smbus: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.bus_number = bus
        self.address = address
        self.where = f'MPU-6050 on /dev/i2c-{bus} at address 0x{address:02x}'
        try:
            self.settings = settings_for(rate_hz, accel_range_g, gyro_range_dps, dlpf_cfg)
        except ValueError as exc:
            raise Mpu6050Error(f'{self.where}: {exc}') from None
        self.use_fifo = use_fifo
        self._clock = clock
        self._t_last: Optional[float] = None
        self.overflows = 0
        if smbus is None:
            try:
                smbus = _open_smbus(bus)
            except (OSError, ImportError) as exc:
                raise Mpu6050Error(f'{self.where}: cannot open the I2C bus ({exc})') from exc
        self._bus = smbus
        try:
            self._configure()
        except Exception:  # noqa: B902 (closes the bus, re-raises)
            self.close()
            raise

    @property
    def rate_hz(self) -> float:
        """Actual output data rate (Hz)."""
        return self.settings.rate_hz

    # -- low level --------------------------------------------------------------------
    def _write(self, reg: int, value: int) -> None:
        if self._bus is None:
            raise Mpu6050Error(f'{self.where}: device is closed')
        try:
            self._bus.write_byte_data(self.address, reg, value)
        except OSError as exc:
            raise Mpu6050Error(f'{self.where}: I2C write of register 0x{reg:02x} failed '
                               f'({exc})') from exc

    def _read(self, reg: int, length: int = 1) -> bytes:
        if self._bus is None:
            raise Mpu6050Error(f'{self.where}: device is closed')
        try:
            if length == 1:
                return bytes([self._bus.read_byte_data(self.address, reg) & 0xFF])
            return bytes(self._bus.read_i2c_block_data(self.address, reg, length))
        except OSError as exc:
            raise Mpu6050Error(f'{self.where}: I2C read of register 0x{reg:02x} failed '
                               f'({exc})') from exc

    def reconfigure(self) -> None:
        """
        Write the configuration again, e.g. after a read error.

        A chip that browned out comes back in its reset state (asleep, FIFO off): it
        answers reads, but with no samples, so reopening must configure it again.
        """
        self._t_last = None
        self._configure()

    def _configure(self) -> None:
        who = self._read(WHO_AM_I)[0]
        if who != WHO_AM_I_VALUE:
            raise Mpu6050Error(f'{self.where}: WHO_AM_I is 0x{who:02x}, expected 0x68 '
                               '(not an MPU-6050, or another device at this address)')
        s = self.settings
        self._write(PWR_MGMT_1, PWR_WAKE_PLL_X)          # leaves sleep mode (reset state)
        self._write(SMPLRT_DIV, s.smplrt_div)
        self._write(CONFIG, s.dlpf_cfg)
        self._write(GYRO_CONFIG, s.fs_sel << 3)
        self._write(ACCEL_CONFIG, s.afs_sel << 3)
        if self.use_fifo:
            self._write(USER_CTRL, USER_FIFO_RESET)
            self._write(FIFO_EN, FIFO_ACCEL_GYRO)
            self._write(USER_CTRL, USER_FIFO_EN)

    # -- samples ------------------------------------------------------------------------
    def read_sample(self) -> Tuple[np.ndarray, np.ndarray]:
        """Burst-read the current registers; return (accel m/s^2, gyro rad/s)."""
        return decode_sample(self._read(ACCEL_XOUT_H, 14), self.settings)

    def read_fifo(self) -> Tuple[np.ndarray, np.ndarray]:
        """
        Drain whole records from the FIFO; return (N, 3) accel and gyro.

        On overflow (the reader fell more than ~40 samples behind at 12 bytes each)
        the FIFO content is misaligned garbage: it is reset, the loss counted in
        :attr:`overflows`, and nothing is returned for this call.
        """
        if self._read(INT_STATUS)[0] & INT_FIFO_OFLOW:
            self.overflows += 1
            self._write(USER_CTRL, USER_FIFO_RESET | USER_FIFO_EN)
            return np.zeros((0, 3)), np.zeros((0, 3))
        count_raw = self._read(FIFO_COUNTH, 2)
        count = (count_raw[0] << 8) | count_raw[1]
        count -= count % FIFO_BYTES_PER_SAMPLE
        data = bytearray()
        # 24 bytes = two whole records per transfer (smbus2 caps a block at 32)
        step = (_MAX_BLOCK // FIFO_BYTES_PER_SAMPLE) * FIFO_BYTES_PER_SAMPLE
        while len(data) < count:
            data += self._read(FIFO_R_W, min(step, count - len(data)))
        return decode_fifo(bytes(data), self.settings)

    def read_block(self) -> ImuBlock:
        """
        Return the samples available now, stamped on ``clock``.

        FIFO mode: the newest sample is stamped now, earlier ones one period apart
        (the chip's clock is steadier than the read loop); stamps never go back.
        Polling mode: one sample stamped now.
        """
        now = self._clock()
        if self.use_fifo:
            acc, gyr = self.read_fifo()
        else:
            a, g = self.read_sample()
            acc, gyr = a[None], g[None]
        n = acc.shape[0]
        if n == 0:
            return ImuBlock.empty()
        t = now - (n - 1 - np.arange(n)) / self.rate_hz
        if self._t_last is not None and t[0] <= self._t_last:
            # read jitter made the back-dated stamps overlap the previous block
            t = np.maximum(t, self._t_last + (np.arange(n) + 1) * 1e-6)
        self._t_last = float(t[-1])
        return ImuBlock(t, acc, gyr)

    def close(self) -> None:
        """Put the chip back to sleep (best effort) and close the bus."""
        bus, self._bus = self._bus, None
        if bus is None:
            return
        try:
            bus.write_byte_data(self.address, PWR_MGMT_1, 0x40)
        except OSError:
            pass
        try:
            bus.close()
        except (OSError, AttributeError):
            pass


def lsb_to_si(raw: int, accel: bool, settings: Mpu6050Settings) -> float:
    """Convert one signed register count to m/s^2 (accel) or rad/s (gyro)."""
    if accel:
        return raw * STANDARD_GRAVITY / settings.accel_lsb_per_g
    return raw * DEG_TO_RAD / settings.gyro_lsb_per_dps


__all__ = ['Mpu6050', 'Mpu6050Error', 'Mpu6050Settings', 'settings_for', 'decode_sample',
           'decode_fifo', 'lsb_to_si']
