"""
Shared measuring code of the benchmarks (``rep-coach bench``, ``bench/*.py``).

* :mod:`.stats`: latency statistics (percentiles) as a dataclass;
* :mod:`.procstat`: CPU and RSS of processes sampled from ``/proc``;
* :mod:`.machine`: a description of the machine and its load at the time;
* :mod:`.graph`: the node graph as separate processes over DDS, measured;
* :mod:`.soak`: a long simulated session run faster than real time;
* :mod:`.suite`: every benchmark side by side, as JSON and as a table.

Timings here are measurements, never assertions: the test suite only checks
that the tools run and report the documented keys.
"""
