"""Unit conversions to REP-103 SI units."""

import math

#: Standard gravity, m/s^2 per g.
STANDARD_GRAVITY = 9.80665
#: rad/s per deg/s.
DEG_TO_RAD = math.pi / 180.0
