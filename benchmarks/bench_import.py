"""asv benchmarks of start-up cost, each in a fresh Python process.

``timeraw_*`` functions return code that asv runs in a new interpreter, so
module imports and numba's loading of cached machine code are measured as a
user meets them. The numba on-disk cache is made warm first (``setup`` runs a
small simulation in the benchmark process), so "first simulate" measures
loading compiled kernels, not compiling them.
"""

from __future__ import annotations

import nhsrisk


def _warm_numba_cache() -> None:
    nhsrisk.simulate(draws=64, seed=0)


def timeraw_import_nhsrisk():
    return "import nhsrisk"


def timeraw_first_simulate_warm_cache():
    return """
    import nhsrisk
    nhsrisk.simulate(draws=10**4, seed=0)
    """


def timeraw_first_simulate_cold_cache():
    # NHSRISK_NUMBA_CACHE=0 makes numba compile every kernel in this process, as on a fresh install
    return """
    import os
    os.environ["NHSRISK_NUMBA_CACHE"] = "0"
    import nhsrisk
    nhsrisk.simulate(draws=10**4, seed=0)
    """


timeraw_first_simulate_cold_cache.number = 1
timeraw_first_simulate_cold_cache.repeat = (1, 3, 300.0)
timeraw_first_simulate_cold_cache.timeout = 900


for _benchmark in (timeraw_import_nhsrisk, timeraw_first_simulate_warm_cache):
    _benchmark.setup = _warm_numba_cache
    _benchmark.number = 1
    _benchmark.repeat = (3, 10, 60.0)
    _benchmark.timeout = 600


del _benchmark
