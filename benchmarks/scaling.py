"""How the kernel's time grows with draws, programmes and years: fitted log-log exponents.

Run from the repository root::

    python -m benchmarks.scaling [--repeats 5] [--threads N] [--skip-axes]

For each axis it times the jitted kernel alone (outputs preallocated and
touched once, so the first-touch cost of fresh memory is not counted), takes the
median of the repeats, and fits ``time = c * size ** b`` by least squares on
logs. Linear growth is ``b = 1``. Programmes and years use
:func:`nhsrisk.testing.synthetic_scenario` at a fixed number of draws (copies
of the default's programmes without its correlations table, so the copula's
cost, quadratic in the correlated inputs, does not bend the programme axis);
programmes over the default's ten-year appraisal period.

Then it measures threads: the kernel and ``simulate`` on the default scenario at
10**6 draws with 1 thread and with every thread, the two settings interleaved
repeat by repeat so that a neighbour's load on a shared machine falls on both,
and reports the speedup of the medians.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

import nhsrisk
from benchmarks.bench_simulate import _kernel_call
from nhsrisk._plan import build_plan
from nhsrisk.testing import synthetic_scenario


def kernel_seconds(scenario, draws: int, repeats: int) -> float:
    """Median seconds of the kernel on ``draws`` draws, outputs allocated and touched by a first call."""
    kernel, arguments = _kernel_call(build_plan(scenario), draws)
    kernel(*arguments)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        kernel(*arguments)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def thread_speedup(draws: int, repeats: int) -> list[str]:
    """Markdown rows: median seconds on 1 thread and on all threads, interleaved, and their ratio."""
    every = numba.config.NUMBA_NUM_THREADS
    scenario = nhsrisk.load_scenario()
    kernel, arguments = _kernel_call(build_plan(scenario), draws)
    kernel(*arguments)
    runs = {
        "kernel only (outputs preallocated)": lambda: kernel(*arguments),
        "`simulate` (allocates its outputs)": lambda: nhsrisk.simulate(scenario, draws=draws, seed=1),
    }
    rows = [
        f"| {draws:,} draws | 1 thread (s) | {every} threads (s) | speedup |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, run in runs.items():
        times: dict[int, list[float]] = {1: [], every: []}
        for threads in (1, every):
            numba.set_num_threads(threads)
            run()  # warm-up
        for _ in range(repeats):
            for threads in (1, every):
                numba.set_num_threads(threads)
                start = time.perf_counter()
                run()
                times[threads].append(time.perf_counter() - start)
        one, many = float(np.median(times[1])), float(np.median(times[every]))
        rows.append(f"| {label} | {one:.3f} | {many:.3f} | {one / many:.2f}x |")
    numba.set_num_threads(every)
    return rows


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) on log(size)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def affine_fit(sizes: list[int], seconds: list[float]) -> tuple[float, float, float]:
    """Least-squares ``seconds = fixed + per_unit * size``: (fixed, per_unit, R squared).

    A fixed cost bends the log-log slope below 1 at small sizes; a straight line
    with a high R squared is what linear growth looks like.
    """
    x, y = np.asarray(sizes, dtype=float), np.asarray(seconds)
    per_unit, fixed = np.polyfit(x, y, 1)
    residual = y - (fixed + per_unit * x)
    r_squared = 1.0 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())
    return float(fixed), float(per_unit), r_squared


def main() -> None:
    """Print a Markdown table per axis and the fitted exponents."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="numba threads (default: all)")
    parser.add_argument("--skip-axes", action="store_true", help="only the thread speedup")
    parser.add_argument("--draws", type=int, default=1_000_000, help="draws for the thread speedup")
    args = parser.parse_args()
    if args.threads:
        numba.set_num_threads(args.threads)
    print(f"numba threads: {numba.get_num_threads()}; median of {args.repeats}\n")
    axes = {
        "draws (default scenario)": ([10**4, 10**5, 10**6], lambda n: (nhsrisk.load_scenario(), n)),
        "programmes (10 years, 100,000 draws)": (
            [1, 4, 16, 64],
            lambda p: (synthetic_scenario(p, 10), 100_000),
        ),
        "years (3 programmes, 100,000 draws)": (
            [5, 10, 20, 40],
            lambda y: (synthetic_scenario(3, y), 100_000),
        ),
    }
    for axis, (sizes, make) in ({} if args.skip_axes else axes).items():
        seconds = []
        print(f"| {axis} | seconds |\n| ---: | ---: |")
        for size in sizes:
            scenario, draws = make(size)
            seconds.append(kernel_seconds(scenario, draws, args.repeats))
            print(f"| {size:,} | {seconds[-1]:.4f} |")
        fixed, per_unit, r_squared = affine_fit(sizes, seconds)
        print(
            f"\nfitted exponent: {exponent(sizes, seconds):.3f}; straight line: {fixed:.4f} s + "
            f"{per_unit:.3g} s per unit, R^2 = {r_squared:.4f}\n"
        )
    print("\n".join(thread_speedup(args.draws, args.repeats)))


if __name__ == "__main__":
    main()
