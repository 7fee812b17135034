"""A session bag left behind by a recorder process killed with SIGKILL, for repair tests."""

import os
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
from typing import List

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Records 60 String messages on /reps, m0..m59: 40 flushed (m0-m19 in a finalised first
#: file, m20-m39 in two chunks of the open second file), 20 pending; then waits to be killed.
_CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[2])
    from rep_coach.bagio import BagRecorder
    from rep_coach.bagio.types import default_typestore
    store = default_typestore()
    cdr = lambda text: bytes(store.serialize_cdr(store.types['std_msgs/msg/String'](text),
                                                 'std_msgs/msg/String'))
    rec = BagRecorder(sys.argv[1], {'/reps': ('std_msgs/msg/String', 'events')},
                      flush_interval_s=3600, max_file_duration_s=3600)
    for i in range(40):
        rec.write('/reps', i, cdr(f'm{i}'))
        if i == 19:
            rec.max_file_duration_s = 1e-9   # rotate at the next flush: one finalised file
        if i % 10 == 9:
            rec.flush()
            rec.max_file_duration_s = 3600
    print('flushed', rec.stats.flushed, rec.stats.files, flush=True)
    for i in range(40, 60):
        rec.write('/reps', i, cdr(f'm{i}'))
    print('pending', rec.stats.pending, flush=True)
    time.sleep(60)
""")


def record_and_kill(bag: Path) -> List[List[str]]:
    """
    Record into ``bag`` in a child process, SIGKILL it; return its two status lines.

    The lines are ``['flushed', '40', '2']`` and ``['pending', '20']``.
    """
    script = bag.parent / f'{bag.name}_recorder.py'
    script.write_text(_CHILD)
    proc = subprocess.Popen([sys.executable, str(script), str(bag), str(REPO_ROOT)],
                            stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline().split(), proc.stdout.readline().split()]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return lines
