"""Process-wide switches read once from the environment, and numba cache hygiene."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Final

#: Cache compiled numba kernels on disk (set ``NHSRISK_NUMBA_CACHE=0`` to turn off,
#: for example on a read-only install).
NUMBA_CACHE: bool = os.environ.get("NHSRISK_NUMBA_CACHE", "1") != "0"

#: numba error model of every kernel. The default ("python") puts a zero check, and
#: a ZeroDivisionError it could raise, on every division: a branch that keeps the
#: compiler from vectorising a loop or from turning its conditionals into selects.
#: The kernels guard their divisions themselves (inputs are checked in Python), so
#: IEEE division, as NumPy does it, is all they need.
ERROR_MODEL: Final = "numpy"

# numba keys a cached function on its own file's timestamp only, but the main
# kernel inlines code from the other kernel modules: editing _sampling.py would
# leave a stale _kernels cache that runs the old code (or crashes), and the slot and
# output constants of _model.py are frozen into the compiled kernels. So the cache
# is cleared whenever any kernel module's source changes.
_KERNEL_SOURCES = (
    "_config.py",
    "_model.py",
    "_rng.py",
    "_special.py",
    "_sampling.py",
    "_design.py",
    "_kernels.py",
)


def _clear_stale_kernel_cache() -> None:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _KERNEL_SOURCES:
        try:
            digest.update((here / name).read_bytes())
        except OSError:
            return
    cache = here / "__pycache__"
    stamp = cache / "nhsrisk-kernels.sha256"
    try:
        if stamp.read_text() == digest.hexdigest():
            return
    except OSError:
        pass
    try:
        cache.mkdir(exist_ok=True)
        for path in cache.glob("*.nb[ic]"):
            path.unlink(missing_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:
        pass  # a read-only install: numba cannot write its cache there either


if NUMBA_CACHE:
    _clear_stale_kernel_cache()
