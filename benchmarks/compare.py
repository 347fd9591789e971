"""Compare nhsrisk with the random-number floor and with what users would write instead, in rounds.

Run from the repository root::

    python -m benchmarks.compare [--draws N] [--rounds R] [--warmup W] [--skip-reference]

The contenders, each timed once per round:

(a) the random-number floor: ``numpy.random.Generator.random`` (PCG64, one
    core) drawing as many uniforms as the kernel consumes,
    ``draws * uniforms_per_draw``, once into a preallocated ``out=`` array and
    once allocating the result. Any Monte Carlo code must at least produce its
    uniforms, so this bounds what the model itself can save.
(b) what an analyst would write without nhsrisk: the same structural model
    vectorised over draws in NumPy (``benchmarks/reference.py``), its inputs
    drawn three ways: with NumPy's own samplers (``Generator.beta`` and
    friends), with ``scipy.stats`` (each input's ``to_scipy().rvs``), and with
    squigglepy (``squigglepy.sample`` of each input's equivalent; the
    ``bench`` extra). Correlated inputs go through the same Gaussian copula.
(c) ``nhsrisk.simulate(threads=1)``, ``nhsrisk.simulate()`` (all numba
    threads; the headline outputs, the default) and ``nhsrisk.simulate(keep="all")``
    (every output, as the NumPy reference returns them, so the peers are set against it).
(d) the kernel alone, all threads, writing into output arrays that were
    allocated and touched before the rounds (no plan building, no Dataset, no
    first-touch page faults): the overhead around it is the difference.

Timing. Every contender runs once untimed (compiling or loading the numba
kernels, warming caches), then ``--warmup`` untimed rounds, then ``--rounds``
timed rounds. A round runs every contender once, in an order rotated from
round to round, so that a neighbour's load on a shared machine falls on all
contenders alike. Reported per contender: the median time over the rounds
with its interquartile range, per draw-year (the default scenario of model v2
covers a ten-year appraisal period; model v1's covered five: ``python -m
benchmarks.versus_v1`` times both), and its ratio to the floor taken round by
round (pairs measured seconds apart), as the median [interquartile range] of
those ratios. The header records the load average before and after, the
commit and a hash of the kernel sources.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
#: The contender every ratio is taken against.
FLOOR = "floor"


@dataclass
class Contender:
    """One way of producing the run, timed once per round."""

    key: str
    label: str
    run: Callable[[], object]
    seconds: list[float] = field(default_factory=list)


def _source_fingerprint() -> str:
    """Commit (if git is there) and a hash of the sources of the imported nhsrisk kernel."""
    return fingerprint(Path(nhsrisk.__file__).resolve().parents[1])


def _squigglepy_available() -> bool:
    try:
        import squigglepy  # noqa: F401
    except ImportError:
        return False
    return True


def contenders(draws: int, *, reference: bool = True) -> tuple[list[Contender], dict[str, object]]:
    """The contenders for ``draws`` draws of the default scenario, and facts about the run."""
    scenario = nhsrisk.load_scenario(SCENARIO)
    plan = build_plan(scenario)
    n_uniforms = draws * plan.uniforms_per_draw
    threads = numba.config.NUMBA_NUM_THREADS
    rng = np.random.default_rng(SEED)
    floor_out = np.empty(n_uniforms)
    kernel, kernel_args = _kernel_call(plan, draws)
    out = [
        Contender(
            FLOOR,
            f"floor: `Generator.random(out=)`, {n_uniforms:,} uniforms",
            lambda: rng.random(out=floor_out),
        ),
        Contender(
            "floor_alloc",
            f"floor: `Generator.random({n_uniforms:,})`, allocating",
            lambda: rng.random(n_uniforms),
        ),
    ]
    if reference:
        out.append(
            Contender(
                "reference_numpy",
                "NumPy model, inputs by NumPy's samplers",
                lambda: simulate_reference(scenario, draws, SEED, method="numpy"),
            )
        )
        out.append(
            Contender(
                "reference_scipy",
                "NumPy model, inputs by `scipy.stats` (`rvs`)",
                lambda: simulate_reference(scenario, draws, SEED, method="scipy"),
            )
        )
        if _squigglepy_available():
            out.append(
                Contender(
                    "reference_squigglepy",
                    "NumPy model, inputs by squigglepy (`sample`)",
                    lambda: simulate_reference(scenario, draws, SEED, method="squigglepy"),
                )
            )
    out += [
        Contender(
            "simulate_1",
            "`nhsrisk.simulate(threads=1)`",
            lambda: nhsrisk.simulate(scenario, draws=draws, seed=SEED, threads=1),
        ),
        Contender(
            "simulate",
            f"`nhsrisk.simulate()` ({threads} threads)",
            lambda: nhsrisk.simulate(scenario, draws=draws, seed=SEED),
        ),
        Contender(
            "simulate_all",
            f'`nhsrisk.simulate(keep="all")` ({threads} threads), every output',
            lambda: nhsrisk.simulate(scenario, draws=draws, seed=SEED, keep="all"),
        ),
        Contender(
            "kernel",
            f"kernel only, {threads} threads, outputs allocated and touched beforehand",
            lambda: kernel(*kernel_args),
        ),
    ]
    facts: dict[str, object] = {
        "uniforms_per_draw": plan.uniforms_per_draw,
        "years": plan.planned_spend.shape[1],
        "programmes": plan.planned_spend.shape[0],
        "threads": threads,
        "squigglepy": _squigglepy_available(),
    }
    return out, facts


def run_rounds(runners: list[Contender], rounds: int, warmup: int, *, log: Callable[[str], None]) -> None:
    """One untimed call of each, ``warmup`` untimed rounds, then ``rounds`` timed rounds, order rotated."""
    for runner in runners:
        runner.run()
        gc.collect()
    log("  every contender ran once (compiled or loaded)")
    for index in range(warmup + rounds):
        shift = index % len(runners)
        for runner in runners[shift:] + runners[:shift]:
            gc.collect()
            start = time.perf_counter()
            runner.run()
            elapsed = time.perf_counter() - start
            if index >= warmup:
                runner.seconds.append(elapsed)
        gc.collect()
        timed = index >= warmup
        log(f"  {'round' if timed else 'warm-up'} {index + 1 - (warmup if timed else 0)} done")


def _quartiles(values: np.ndarray) -> tuple[float, float, float]:
    low, middle, high = np.quantile(values, [0.25, 0.5, 0.75])
    return float(low), float(middle), float(high)


def report(runners: list[Contender], facts: dict[str, object], draws: int, load: tuple[str, str]) -> str:
    """The Markdown tables: times, per draw-year, and per-round ratios to the floor."""
    n_year = int(facts["years"])  # type: ignore[call-overload]
    by_key = {runner.key: runner for runner in runners}
    floor = np.asarray(by_key[FLOOR].seconds)
    rounds = len(floor)
    lines = [
        f"### nhsrisk against the random-number floor and the alternatives: {draws:,} draws, {rounds} rounds",
        "",
        f"Default scenario `{SCENARIO}` ({n_year} years, {facts['programmes']} programmes, "
        f"{facts['uniforms_per_draw']} uniforms per draw); contenders interleaved, order rotated each round. "
        f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"numba {numba.__version__} ({facts['threads']} threads), NumPy {np.__version__}, "
        f"Python {platform.python_version()}; load average {load[0]} before, {load[1]} after; "
        f"{_source_fingerprint()}.",
        "",
        "| contender | seconds, median [IQR] | ns per draw-year | x floor, per round: median [IQR] |",
        "| --- | ---: | ---: | ---: |",
    ]
    for runner in runners:
        seconds = np.asarray(runner.seconds)
        low, middle, high = _quartiles(seconds)
        r_low, r_mid, r_high = _quartiles(seconds / floor)
        per_draw_year = middle / (draws * n_year) * 1e9
        lines.append(
            f"| {runner.label} | {middle:.4f} [{low:.4f} .. {high:.4f}] | {per_draw_year:,.1f} "
            f"| {r_mid:.2f} [{r_low:.2f} .. {r_high:.2f}] |"
        )
    if not facts["squigglepy"]:
        lines += ["", "squigglepy is not installed (`pip install -e '.[bench]'`): its row is left out."]

    def ratio(numerator: str, denominator: str) -> str:
        if numerator not in by_key or denominator not in by_key:
            return "not run"
        values = np.asarray(by_key[numerator].seconds) / np.asarray(by_key[denominator].seconds)
        low, middle, high = _quartiles(values)
        return f"{middle:.2f} [{low:.2f} .. {high:.2f}]"

    lines += [
        "",
        "| ratio, per round | median [IQR] |",
        "| --- | ---: |",
        f"| `simulate()` (headline outputs, the default) / floor (`out=`) | {ratio('simulate', FLOOR)} |",
        f'| `simulate(keep="all")` / floor (`out=`) | {ratio("simulate_all", FLOOR)} |',
        f"| kernel only / floor (`out=`) | {ratio('kernel', FLOOR)} |",
        f"| `simulate()` / kernel only | {ratio('simulate', 'kernel')} |",
        # the peers return every output: set them against the run that keeps every output too
        f'| NumPy model, NumPy samplers / `simulate(keep="all")` | '
        f"{ratio('reference_numpy', 'simulate_all')} |",
        f'| NumPy model, `scipy.stats` inputs / `simulate(keep="all")` | '
        f"{ratio('reference_scipy', 'simulate_all')} |",
        f'| NumPy model, squigglepy inputs / `simulate(keep="all")` | '
        f"{ratio('reference_squigglepy', 'simulate_all')} |",
        f"| `simulate(threads=1)` / `simulate()` | {ratio('simulate_1', 'simulate')} |",
    ]
    return "\n".join(lines)


def _load() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def run(draws: int, rounds: int, warmup: int = 1, *, reference: bool = True, quiet: bool = False) -> str:
    """Measure every contender in interleaved rounds and return the Markdown report."""

    def log(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    before = _load()
    runners, facts = contenders(draws, reference=reference)
    run_rounds(runners, rounds, warmup, log=log)
    return report(runners, facts, draws, (before, _load()))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description="Time nhsrisk against the random-number floor and the NumPy, scipy.stats and "
        "squigglepy alternatives, interleaved in rounds.",
    )
    parser.add_argument("--draws", type=int, default=1_000_000, help="draws per run (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument(
        "--skip-reference", action="store_true", help="do not time the NumPy model (with any input sampler)"
    )
    args = parser.parse_args(argv)
    if args.draws < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--draws and --rounds must be >= 1 and --warmup >= 0")
    print(run(args.draws, args.rounds, args.warmup, reference=not args.skip_reference))
    return 0


if __name__ == "__main__":
    sys.exit(main())
