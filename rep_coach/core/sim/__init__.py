"""
Simulated wrist IMU of strength-training sets to failure (ROS-free).

Realistic enough to drive the graph and to pretrain or augment learned models:
rep rhythm with minimum-jerk concentric and eccentric halves, concentric slowing
towards failure (mean-velocity loss 20-50 % by the rep at RIR 0, with a growing
sticking region), longer pauses near failure, an occasional false start or failed
last attempt, rest with fidgets between sets, gravity rotating with the forearm,
body sway and tremor, and a sensor with noise, scale error, drifting bias and
saturation.  Subject (tempo, range of motion, forearm length, reps to failure)
and sensor mounting (rotation about the forearm, tilt, worn reversed) are drawn
from the seed; the same :class:`SimConfig` always gives the same samples.

Labels (``ImuRecording.sets``, one :class:`SetLabels` per set, times on the
recording's timeline): ``start`` when the rep's first half begins, ``peak`` at
the turning point (end of the concentric for curls, raises and presses; the
bottom of the squat for ``front_squat``, whose first half is the eccentric, see
``meta['concentric_first']``), ``end`` when the segment is back at its start
pose, ``rir`` the true reps in reserve (0 on the rep at failure) and
``rpe = 10 - rir`` clipped to [1, 10].

Usage::

    rec = simulate(SimConfig(seed=3, exercise='hammer_curl', sets=2))
    stream = SimStream(SimConfig(sets=0))        # endless, for a live publisher
    for block in stream.blocks(block_size=10):   # in order; labels grow as it goes
        ...
"""

from __future__ import annotations

from typing import Iterator, List

from rep_coach.core.sim.config import describe_options, SimConfig, SimConfigError
from rep_coach.core.sim.exercises import Exercise, EXERCISES, get_exercise
from rep_coach.core.sim.session import rpe_from_rir, SessionGenerator
from rep_coach.core.types import ImuBlock, ImuRecording, SetLabels

__all__ = ['describe_options', 'Exercise', 'EXERCISES', 'get_exercise', 'rpe_from_rir',
           'SimConfig', 'SimConfigError', 'SimStream', 'simulate']


class SimStream:
    """
    Streaming form of the simulator: blocks in time order, labels as they are planned.

    A set's labels are appended to :attr:`labels` before its first sample is
    yielded, so a publisher can emit each true rep once the samples have passed
    its ``end``.
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._gen = SessionGenerator(config)
        self.labels: List[SetLabels] = []
        self.rate_hz = float(config.rate_hz)

    @property
    def meta(self) -> dict:
        """Subject, mounting and per-set summaries drawn so far."""
        return self._gen.meta

    def blocks(self, block_size: int = 0) -> Iterator[ImuBlock]:
        """Yield the samples; ``block_size`` > 0 splits bouts into blocks of that many."""
        for bout in self._gen.bouts():
            if bout.labels is not None:
                self.labels.append(bout.labels)
            if block_size <= 0:
                yield bout.block
                continue
            for i in range(0, len(bout.block), block_size):
                yield bout.block.slice(i, i + block_size)


def simulate(config: SimConfig) -> ImuRecording:
    """Simulate a whole finite session (``config.sets >= 1``)."""
    if config.sets == 0:
        raise SimConfigError('sim option sets=0 (endless) only works with SimStream')
    stream = SimStream(config)
    imu = ImuBlock.concat(list(stream.blocks()))
    return ImuRecording(name=f'sim_{stream.meta["exercise"]}_seed{config.seed}', imu=imu,
                        rate_hz=stream.rate_hz, sets=stream.labels, subject='sim',
                        meta=stream.meta)
