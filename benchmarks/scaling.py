"""How the kernel's time grows with draws, programmes and years: fitted log-log exponents.

Run from the repository root::

    python -m benchmarks.scaling [--repeats 5] [--threads N]

For each axis it times the jitted kernel alone (outputs preallocated and
touched once, so the first-touch cost of fresh memory is not counted), takes the
median of the repeats, and fits ``time = c * size ** b`` by least squares on
logs. Linear growth is ``b = 1``. Programmes and years use
:func:`nhsrisk.testing.synthetic_scenario` at a fixed number of draws.
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


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) on log(size)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def main() -> None:
    """Print a Markdown table per axis and the fitted exponents."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="numba threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        numba.set_num_threads(args.threads)
    print(f"numba threads: {numba.get_num_threads()}; median of {args.repeats}\n")
    axes = {
        "draws (default scenario)": ([10**4, 10**5, 10**6], lambda n: (nhsrisk.load_scenario(), n)),
        "programmes (5 years, 20,000 draws)": ([1, 4, 16, 64], lambda p: (synthetic_scenario(p, 5), 20_000)),
        "years (3 programmes, 20,000 draws)": ([5, 10, 20, 40], lambda y: (synthetic_scenario(3, y), 20_000)),
    }
    for axis, (sizes, make) in axes.items():
        seconds = []
        print(f"| {axis} | seconds |\n| ---: | ---: |")
        for size in sizes:
            scenario, draws = make(size)
            seconds.append(kernel_seconds(scenario, draws, args.repeats))
            print(f"| {size:,} | {seconds[-1]:.4f} |")
        print(f"\nfitted exponent: {exponent(sizes, seconds):.3f}\n")


if __name__ == "__main__":
    main()
