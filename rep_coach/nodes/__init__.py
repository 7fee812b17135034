"""
ROS 2 nodes: thin wiring of topics and parameters to the core.

Each node handles one small message at a time, where a BLAS or OpenMP thread pool
only costs: its worker threads spin-wait after every tiny numpy call and took a
third to half of a core per node at 100 Hz.  One thread per library is set here,
before numpy is first imported by any node module (a user's explicit setting wins).
"""

import os

for _var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_var, '1')
