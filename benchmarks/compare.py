"""Compare nhsrisk with the random-number floor and the plain-NumPy reference, in one process.

Run from the repository root::

    python -m benchmarks.compare [--draws N] [--repeats R] [--skip-reference]

Every measurement is the median of R repeats (default 5) after one warm-up
call (which also compiles or loads the numba kernels), taken one after the
other in this process on this machine:

(a) the random-number floor: ``numpy.random.Generator.random`` (PCG64, one
    core) drawing as many uniforms as the kernel consumes,
    ``draws * uniforms_per_draw``, once into a preallocated ``out=`` array and
    once allocating the result. Any Monte Carlo code must at least produce its
    uniforms, so this bounds what the model itself can save.
(b) the NumPy reference model (``benchmarks/reference.py``), the same
    structural model vectorised over draws, as an analyst would write it
    without numba;
(c) ``nhsrisk.simulate(threads=1)``;
(d) ``nhsrisk.simulate(threads=None)`` (all numba threads);
(e) the kernel alone, all threads, outputs preallocated (no plan building, no
    Dataset), to show the overhead around it.

It prints a Markdown table for the README, with each time also per draw-year
(the default scenario of model v2 covers a ten-year appraisal period; model
v1's covered five, so per draw-year is the figure to set against v1's:
``python -m benchmarks.versus_v1`` times both in one run). The kernel may be
under active optimisation: the table header records the commit and a hash of
the kernel sources, so numbers can be tied to the code that produced them.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

import nhsrisk
from benchmarks.bench_simulate import _kernel_call
from benchmarks.reference import simulate_reference
from benchmarks.versus_v1 import fingerprint
from nhsrisk._plan import build_plan
from nhsrisk.scenario import DEFAULT_SCENARIO

SCENARIO = DEFAULT_SCENARIO
SEED = 20240306
ROOT = Path(__file__).resolve().parents[1]


def _median_time(func: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Median wall time of ``repeats`` calls of ``func`` after one untimed warm-up call."""
    func()
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def _time_floor(rng: np.random.Generator, n_uniforms: int, repeats: int) -> tuple[float, list[float]]:
    out = np.empty(n_uniforms)
    return _median_time(lambda: rng.random(out=out), repeats)


def _time_kernel(plan, draws: int, repeats: int) -> tuple[float, list[float]]:
    kernel, args = _kernel_call(plan, draws)
    return _median_time(lambda: kernel(*args), repeats)


def _source_fingerprint() -> str:
    """Commit (if git is there) and a hash of the sources of the imported nhsrisk kernel."""
    return fingerprint(Path(nhsrisk.__file__).resolve().parents[1])


def run(draws: int, repeats: int, *, reference: bool = True) -> str:
    """Measure everything and return the Markdown report."""
    # The sources as imported (the code measured); checked again at the end because
    # the kernel may be edited on disk while this runs.
    fingerprint = _source_fingerprint()
    scenario = nhsrisk.load_scenario(SCENARIO)
    plan = build_plan(scenario)
    per_draw = plan.uniforms_per_draw
    n_year = plan.planned_spend.shape[1]
    n_uniforms = draws * per_draw
    all_threads = numba.config.NUMBA_NUM_THREADS
    rows: list[tuple[str, float, list[float]]] = []

    # (a) the random-number floor, single core
    rng = np.random.default_rng(SEED)
    rows.append(
        (f"floor: `Generator.random(out=)`, {n_uniforms:,} uniforms", *_time_floor(rng, n_uniforms, repeats))
    )
    rows.append(
        (
            f"floor: `Generator.random({n_uniforms:,})`, allocating",
            *_median_time(lambda: rng.random(n_uniforms), repeats),
        )
    )
    gc.collect()

    # (b) the NumPy reference
    if reference:
        rows.append(
            (
                "NumPy reference (`benchmarks/reference.py`)",
                *_median_time(lambda: simulate_reference(scenario, draws, SEED), repeats),
            )
        )
        gc.collect()

    # (c), (d) nhsrisk.simulate on 1 thread and on all threads
    rows.append(
        (
            "`nhsrisk.simulate(threads=1)`",
            *_median_time(lambda: nhsrisk.simulate(scenario, draws=draws, seed=SEED, threads=1), repeats),
        )
    )
    gc.collect()
    rows.append(
        (
            f"`nhsrisk.simulate(threads=None)` ({all_threads} threads)",
            *_median_time(lambda: nhsrisk.simulate(scenario, draws=draws, seed=SEED), repeats),
        )
    )
    gc.collect()

    # (e) the kernel alone, outputs preallocated
    rows.append(
        (
            f"kernel only, {all_threads} threads, outputs preallocated",
            *_time_kernel(plan, draws, repeats),
        )
    )
    gc.collect()

    seconds = {label: median for label, median, _ in rows}
    floor_out = rows[0][1]
    floor_alloc = rows[1][1]
    one = seconds["`nhsrisk.simulate(threads=1)`"]
    every = seconds[f"`nhsrisk.simulate(threads=None)` ({all_threads} threads)"]

    lines = [
        f"### nhsrisk vs the random-number floor and plain NumPy: {draws:,} draws",
        "",
        f"Default scenario `{SCENARIO}` ({n_year} years, {plan.planned_spend.shape[0]} programmes), "
        f"{per_draw} uniforms per draw; median of {repeats} repeats after a "
        f"warm-up, one process. {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numba {numba.__version__} "
        f"({all_threads} threads), NumPy {np.__version__}, "
        f"Python {platform.python_version()}; {fingerprint}.",
        "",
        "| what | seconds (median) | min .. max | draws/s | ns per draw-year | x floor (out=) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, median, times in rows:
        lines.append(
            f"| {label} | {median:.4f} | {min(times):.4f} .. {max(times):.4f} | {draws / median:,.0f} "
            f"| {median / (draws * n_year) * 1e9:,.1f} | {median / floor_out:.2f} |"
        )
    if _source_fingerprint() != fingerprint:
        lines += ["", f"Note: the sources on disk changed during the run (now {_source_fingerprint()})."]
    lines += [
        "",
        "| ratio | value |",
        "| --- | ---: |",
        f"| nhsrisk all threads / floor (`out=`) | {every / floor_out:.2f} |",
        f"| nhsrisk all threads / floor (allocating) | {every / floor_alloc:.2f} |",
    ]
    if reference:
        ref = seconds["NumPy reference (`benchmarks/reference.py`)"]
        lines += [
            f"| NumPy reference / nhsrisk all threads | {ref / every:.2f} |",
            f"| NumPy reference / nhsrisk 1 thread | {ref / one:.2f} |",
        ]
    lines.append(f"| {all_threads}-thread speedup over 1 thread (`simulate`) | {one / every:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description="Time nhsrisk.simulate against the random-number floor and the NumPy reference.",
    )
    parser.add_argument("--draws", type=int, default=1_000_000, help="draws per run (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats, median reported (default 5)")
    parser.add_argument("--skip-reference", action="store_true", help="do not time the NumPy reference")
    args = parser.parse_args(argv)
    if args.draws < 1 or args.repeats < 1:
        parser.error("--draws and --repeats must be >= 1")
    print(run(args.draws, args.repeats, reference=not args.skip_reference))
    return 0


if __name__ == "__main__":
    sys.exit(main())
