"""Process-wide switches read once from the environment."""

from __future__ import annotations

import os

#: Cache compiled numba kernels on disk (set ``NHSRISK_NUMBA_CACHE=0`` to turn off,
#: for example on a read-only install).
NUMBA_CACHE: bool = os.environ.get("NHSRISK_NUMBA_CACHE", "1") != "0"
