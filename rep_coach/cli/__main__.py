"""Allow ``python -m rep_coach.cli``."""

import sys

from rep_coach.cli import main

sys.exit(main())
