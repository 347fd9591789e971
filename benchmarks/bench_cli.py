"""asv benchmarks of ``nhsrisk run`` as a user meets it: a fresh process, warm caches, 100,000 draws.

``timeraw_run_default`` times a new interpreter from its start through the
end of ``nhsrisk run --seed 2024`` (imports, numba's loading of the cached
kernels, the simulation, the waterfall, the files and figures, the summary),
and the removal of the folder it wrote, a few hundredths of a second. The
numba cache is made warm first. ``track_run_folder_bytes`` is the size of
the folder a plain run writes. ``nhsrisk run --timings`` splits a run into
its phases.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import nhsrisk
from nhsrisk import cli

# asv reads the timing from the process's standard output: the summary goes to /dev/null
_RUN = """
import contextlib, os, shutil, tempfile
from pathlib import Path
from nhsrisk.cli import main
folder = Path(tempfile.mkdtemp(prefix="nhsrisk-bench-"))
try:
    with open(os.devnull, "w", encoding="utf-8") as quiet, contextlib.redirect_stdout(quiet):
        code = main(["run", "--seed", "2024", "--out", str(folder / "out"), "--no-progress"{extra}])
    assert code == 0
finally:
    shutil.rmtree(folder)
"""


def _warm_numba_cache() -> None:
    nhsrisk.simulate(draws=64, seed=0)
    nhsrisk.waterfall(draws=64, seed=0, progress=False)


def timeraw_run_default():
    return _RUN.format(extra="")


def timeraw_run_keep_all():
    return _RUN.format(extra=', "--keep", "all"')


for _benchmark in (timeraw_run_default, timeraw_run_keep_all):
    _benchmark.setup = _warm_numba_cache
    _benchmark.number = 1
    _benchmark.repeat = (3, 7, 120.0)
    _benchmark.timeout = 900


def track_run_folder_bytes():
    folder = Path(tempfile.mkdtemp(prefix="nhsrisk-bench-"))
    try:
        with open(os.devnull, "w", encoding="utf-8") as quiet, contextlib.redirect_stdout(quiet):
            cli.main(["run", "--seed", "2024", "--out", str(folder / "out"), "--no-progress"])
        return sum(path.stat().st_size for path in (folder / "out").iterdir())
    finally:
        shutil.rmtree(folder)


track_run_folder_bytes.unit = "bytes"
track_run_folder_bytes.timeout = 600

del _benchmark
