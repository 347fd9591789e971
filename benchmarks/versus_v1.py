"""Model v2 against model v1: time per draw-year, the contenders interleaved in rounds in one run.

Run from the repository root, with a checkout of v1 beside it::

    git worktree add ../v1 58e49aa        # once (the v1 commit measured)
    python -m benchmarks.versus_v1 [--draws 100000] [--rounds 7] [--v1 ../v1] [--threads N]

Each contender is a long-lived worker process running one version of the
package on one scenario shape:

- v1, its default scenario (``spring-budget-2024``: five years, three
  programmes, six staff groups);
- v1 on ten years (v1's ``synthetic_scenario(3, 10)``: copies of the same
  three programmes, their spend spread over three years);
- v2, its default (``as-announced``: the ten-year appraisal period, the same
  programmes and groups, the correlations table);
- v2 on five years (``synthetic_scenario(3, 5, correlations=True)``: the
  default's programmes, groups, spending profile and correlations, the period
  cut to v1's five years): the same shape as v1's default.

A v1 worker runs the same Python interpreter with the v1 checkout first on
``PYTHONPATH`` (and its working directory in a scratch directory, so the v2
sources in the current directory cannot shadow it); it reports the file it
imported, which the table shows. Each version compiles into its own numba
cache directory (``--cache-dir``), so the caches do not mix and nothing is
written beside either checkout.

Timing. Every worker compiles its kernels (or loads them from its cache) and
runs one untimed call of everything before any timing; then ``--warmup``
untimed rounds. A round asks every worker for one timed call, in an order
rotated from round to round, so a neighbour's load on a shared machine falls
on all contenders alike. The kernel alone (``simulate_kernel`` on the plan's
arrays, all numba threads) is timed in one phase on output arrays allocated
once and touched by the untimed call, so first-touch page faults are not
counted (and the workers then free them); ``nhsrisk.simulate`` is timed in a
second phase and allocates its outputs each call, page faults included, as a
user meets them. ``--processes P`` repeats all this with P generations of fresh workers and
pools their rounds: a process's memory placement moves a version's time by a
few percent (on 2026-12-06 long-lived workers favoured v2 by about 4% against
fresh processes), and more generations average that out. Reported: median and
interquartile range over the rounds, in
nanoseconds per draw-year (seconds / (draws x years)), and the ratios v2/v1
taken round by round (pairs measured seconds apart), with their median and
interquartile range. Both wall-clock time and CPU time (``time.process_time``:
all threads of the worker) are reported: on a shared machine the CPU time is
much less disturbed by other processes, and it is the work a draw-year costs.

The asv suite gives the same comparison one version at a time:
``bench_simulate.KernelOnly`` (the default: v1's five years, v2's ten) and
``bench_simulate.KernelPerDrawYear`` (v2 on five and ten years). To run v1's
suite, point asv (``environment_type = "existing"``, results outside both
checkouts) at an interpreter wrapper that puts the v1 checkout first::

    #!/bin/sh
    # asv drops PYTHONPATH from sys.path unless ASV_PYTHONPATH names it too
    PYTHONPATH=../v1 ASV_PYTHONPATH=../v1 NUMBA_CACHE_DIR=/tmp/v1-cache exec .venv/bin/python "$@"

and pass it with ``asv run --python=<wrapper> -b KernelOnly``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEED = 20240306
V1_COMMIT = "58e49aa"
KINDS = ("kernel", "simulate")
MARK = "@@ "

#: Run in each worker with ``python -c``: argv[1] is the scenario spec and draws, as JSON.
WORKER = r"""
import gc, json, sys, time
import numba
import nhsrisk
from nhsrisk._plan import build_plan
from benchmarks.bench_simulate import _kernel_call

spec = json.loads(sys.argv[1])
MARK = "@@ "
SEED = spec["seed"]
draws = spec["draws"]


def reply(**message):
    sys.stdout.write(MARK + json.dumps(message) + "\n")
    sys.stdout.flush()


if spec["scenario"] == "default":
    scenario = nhsrisk.load_scenario()
else:
    from nhsrisk.testing import synthetic_scenario

    programmes, years, correlated = spec["scenario"]
    scenario = synthetic_scenario(programmes, years, **({"correlations": True} if correlated else {}))
plan = build_plan(scenario)
nhsrisk.simulate(scenario, draws=64, seed=SEED)  # compile, or load from the cache
kernel, arguments = _kernel_call(plan, draws)
kernel(*arguments)  # every specialisation loaded; the output pages touched
outputs = [a for a in arguments if isinstance(a, tuple)][-1]
bytes_per_draw = (sum(a.nbytes for a in outputs) + arguments[-2].nbytes) / draws
reply(
    file=nhsrisk.__file__,
    scenario=scenario.name,
    years=len(scenario.years),
    programmes=len(scenario.programmes),
    staff_groups=len(scenario.staff_groups),
    uniforms_per_draw=int(plan.uniforms_per_draw),
    correlated_inputs=int(getattr(plan, "copula_rows", ()).__len__()),
    bytes_per_draw=bytes_per_draw,
    threads=numba.get_num_threads(),
)
ds = nhsrisk.simulate(scenario, draws=draws, seed=SEED)
del ds
gc.collect()

phase_kernels = {}
if spec["phases"]:
    # The version's own span kernel, cut into its phases by source surgery (nothing on disk changes):
    # "sample" draws the kept inputs and applies the copula; "gather" copies each block's inputs and
    # draws the unkept ones (the raid events); "model" is "gather" plus evaluate_block.
    import inspect
    from nhsrisk import _kernels

    lines = inspect.getsource(_kernels.simulate_span.py_func).splitlines()
    text = "\n".join(line for line in lines if not line.startswith("@"))
    sampling_loop = text.index("    for task in range(n_stored * n_runs):")
    blocks = text.index("    n_blocks = (n + BLOCK - 1) // BLOCK")
    call = "        evaluate_block(lo, count, x, model, scratch, outputs)"
    assert call in text
    variants = {
        "sample": text[:blocks],
        "gather": (text[:sampling_loop] + text[blocks:]).replace(call, "        pass"),
        "model": text[:sampling_loop] + text[blocks:],
    }
    for name, source in variants.items():
        namespace = dict(vars(_kernels))
        exec(source.replace("def simulate_span(", f"def span_{name}(", 1), namespace)
        phase_kernels[name] = numba.njit(nogil=True)(namespace[f"span_{name}"])
        _kernels.simulate_kernel(*arguments, span_kernel=phase_kernels[name])  # compile
    reply(phases_ready=True)

for line in sys.stdin:
    command = line.strip()
    if command == "quit":
        break
    if command == "release":
        del kernel, arguments, outputs
        gc.collect()
        reply(released=True)
        continue
    gc.collect()
    if command == "phases":
        seconds = {}
        for name, span_kernel in [*phase_kernels.items(), ("all", None)]:
            wall, cpu = time.perf_counter(), time.process_time()
            _kernels.simulate_kernel(*arguments, span_kernel=span_kernel)
            seconds[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        reply(seconds=seconds)
        continue
    wall, cpu = time.perf_counter(), time.process_time()
    if command == "kernel":
        kernel(*arguments)
    else:
        ds = nhsrisk.simulate(scenario, draws=draws, seed=SEED)
    seconds = (time.perf_counter() - wall, time.process_time() - cpu)
    ds = None
    reply(seconds=seconds)
"""


@dataclass
class Contender:
    """One version of the package on one scenario shape, in its own worker process."""

    label: str
    version: str
    scenario: object
    info: dict = field(default_factory=dict)
    times: dict = field(default_factory=lambda: {kind: [] for kind in KINDS})
    phases: list = field(default_factory=list)
    process: subprocess.Popen | None = None

    def start(
        self, source: Path, cache: Path, draws: int, threads: int | None, scratch: Path, phases: bool
    ) -> None:
        """Start the worker; it compiles and warms up before it answers."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(source), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["NUMBA_CACHE_DIR"] = str(cache)
        if threads is not None:
            env["NUMBA_NUM_THREADS"] = str(threads)
        spec = json.dumps({"scenario": self.scenario, "draws": draws, "seed": SEED, "phases": phases})
        log = open(scratch / f"{self.label.replace(' ', '_').replace('/', '_')}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=scratch,
            env=env,
        )

    def read(self) -> dict:
        """The worker's next message (lines without the mark, such as library output, are skipped)."""
        assert self.process is not None and self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"worker {self.label!r} stopped; see its log in the scratch directory")
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])

    def ask(self, command: str) -> dict:
        """Send one command and wait for the answer."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.read()

    def stop(self) -> None:
        """Ask the worker to quit and wait for it."""
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
            except BrokenPipeError:
                pass
            self.process.wait(timeout=120)

    def per_draw_year(self, kind: str, draws: int, clock: int) -> np.ndarray:
        """Nanoseconds per draw-year of every timed round: wall-clock (``clock=0``) or CPU (1) time."""
        return self.seconds(kind, clock) / (draws * self.info["years"]) * 1e9

    def seconds(self, kind: str, clock: int) -> np.ndarray:
        """Seconds of every timed round: wall-clock (``clock=0``) or CPU time of all threads (1)."""
        return np.asarray([pair[clock] for pair in self.times[kind]], dtype=float)


#: The contenders by short name (see the module docstring).
CONTENDERS = {
    "v1-5": ("v1, default (5 years)", "v1", "default"),
    "v1-10": ("v1, 10 years", "v1", [3, 10, False]),
    "v2-10": ("v2, default (10 years)", "v2", "default"),
    "v2-5": ("v2, 5 years", "v2", [3, 5, True]),
}


def contenders(names: list[str]) -> list[Contender]:
    """The contenders named (keys of :data:`CONTENDERS`), in that order."""
    return [Contender(*CONTENDERS[name]) for name in names]


#: Ratios reported: (numerator, denominator, what it measures).
RATIOS = (
    ("v2, 5 years", "v1, default (5 years)", "per draw-year, same shape (5 years)"),
    ("v2, default (10 years)", "v1, 10 years", "per draw-year, same shape (10 years)"),
    ("v2, default (10 years)", "v1, default (5 years)", "per draw-year, each version's default"),
)


def fingerprint(path: Path) -> str:
    """Commit of a checkout (if git is there) and a hash of its kernel sources."""
    digest = hashlib.sha256()
    for name in ("_kernels.py", "_model.py", "_sampling.py", "_design.py", "_rng.py", "_plan.py"):
        source = path / "nhsrisk" / name
        if source.exists():
            digest.update(source.read_bytes())
    try:
        commit = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return f"{commit} (kernel sources sha256 {digest.hexdigest()[:12]})"


def run_rounds(runners: list[Contender], kind: str, rounds: int, warmup: int) -> None:
    """Time ``kind`` on every contender, round by round, the order rotated each round."""
    for r in range(warmup + rounds):
        shift = r % len(runners)
        for contender in runners[shift:] + runners[:shift]:
            seconds = contender.ask(kind)["seconds"]
            if r >= warmup:
                if kind == "phases":
                    contender.phases.append(seconds)
                else:
                    contender.times[kind].append(seconds)
        done = "warm-up" if r < warmup else f"round {r - warmup + 1}/{rounds}"
        print(f"  {kind}: {done} done", file=sys.stderr, flush=True)


def _quartiles(values: np.ndarray) -> tuple[float, float, float]:
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return float(median), float(q1), float(q3)


CLOCKS = ((0, "wall-clock"), (1, "CPU (all threads)"))


def report(
    runners: list[Contender],
    draws: int,
    rounds: int,
    warmup: int,
    sources: dict[str, str],
    processes: int = 1,
) -> str:
    """The Markdown tables."""
    by_label = {c.label: c for c in runners}
    first = runners[0].info
    lines = [
        f"### Model v2 against v1: {draws:,} draws, {rounds} rounds (after {warmup} warm-up), interleaved"
        + (f", in {processes} generations of fresh workers" if processes > 1 else ""),
        "",
        f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {first['threads']} numba threads per worker, Python "
        f"{platform.python_version()}, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"at the end. v1: {sources['v1']}; v2: {sources['v2']}. Wall-clock time is what a user waits; "
        "CPU time (all threads of the worker) is the work done, less disturbed by other processes "
        "on a shared machine.",
        "",
        "| contender | years x programmes x groups | uniforms / draw | correlated inputs | bytes / draw |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for c in runners:
        lines.append(
            f"| {c.label} | {c.info['years']} x {c.info['programmes']} x {c.info['staff_groups']} | "
            f"{c.info['uniforms_per_draw']} | {c.info['correlated_inputs']} "
            f"| {c.info['bytes_per_draw']:,.0f} |"
        )
    lines += [
        "",
        "ns per draw-year, median [interquartile range] over the rounds:",
        "",
        "| contender | kernel only, wall | kernel only, CPU | `simulate`, wall | `simulate`, CPU |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for c in runners:
        cells = []
        for kind in KINDS:
            for clock, _ in CLOCKS:
                median, q1, q3 = _quartiles(c.per_draw_year(kind, draws, clock))
                cells.append(f"{median:,.1f} [{q1:,.1f} .. {q3:,.1f}]")
        lines.append(f"| {c.label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Ratios v2/v1, taken round by round: median [IQR] of the per-round ratios (the ratio of the medians "
        "after it):",
        "",
        "| ratio | what it measures | kernel only, wall | kernel only, CPU "
        "| `simulate`, wall | `simulate`, CPU |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    pairs = [(top, bottom, what, True) for top, bottom, what in RATIOS]
    pairs.append(
        (
            "v2, default (10 years)",
            "v1, default (5 years)",
            "per draw: a v2 draw over ten years against a v1 draw over five",
            False,
        )
    )
    for top, bottom, what, per_year in pairs:
        if top not in by_label or bottom not in by_label:
            continue
        cells = []
        for kind in KINDS:
            for clock, _ in CLOCKS:
                if per_year:
                    a = by_label[top].per_draw_year(kind, draws, clock)
                    b = by_label[bottom].per_draw_year(kind, draws, clock)
                else:
                    a, b = by_label[top].seconds(kind, clock), by_label[bottom].seconds(kind, clock)
                median, q1, q3 = _quartiles(a / b)
                cells.append(f"{median:.2f} [{q1:.2f} .. {q3:.2f}] ({np.median(a) / np.median(b):.2f})")
        lines.append(f"| {top} / {bottom} | {what} | " + " | ".join(cells) + " |")
    lines += ["", "Imported from: " + "; ".join(f"{c.label}: `{c.info['file']}`" for c in runners)]
    return "\n".join(lines)


def phase_report(runners: list[Contender], draws: int) -> str:
    """Markdown table: ns per draw-year of each phase of the kernel (medians over the rounds)."""
    lines = [
        "Where the kernel's time goes: CPU ns per draw-year (wall-clock in brackets), median over the "
        "rounds; each phase run alone on the same arrays, so the phases add up to about the whole:",
        "",
        "| contender | sample kept inputs (+ copula) | gather block inputs, draw raid events | "
        "evaluate_block | sum | whole kernel, same rounds |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in runners:
        scale = 1e9 / (draws * c.info["years"])
        cells = {}
        for clock, _ in CLOCKS:
            phase = {
                k: float(np.median([p[k][clock] for p in c.phases])) * scale
                for k in ("sample", "gather", "model", "all")
            }
            phase["evaluate"] = phase["model"] - phase["gather"]
            phase["sum"] = phase["sample"] + phase["model"]
            cells[clock] = phase
        row = [
            f"{cells[1][k]:,.1f} ({cells[0][k]:,.1f})" for k in ("sample", "gather", "evaluate", "sum", "all")
        ]
        lines.append(f"| {c.label} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.versus_v1", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--draws", type=float, default=1e5, help="draws per call (default 100,000)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--v1", type=Path, default=ROOT.parent / "v1", help=f"checkout of v1 ({V1_COMMIT})")
    parser.add_argument("--threads", type=int, default=None, help="numba threads per worker (default: all)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "nhsrisk-versus-v1",
        help="numba caches go in <dir>/v1 and <dir>/v2",
    )
    parser.add_argument("--kinds", default=",".join(KINDS), help="what to time: kernel, simulate or both")
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"which to run, of {','.join(CONTENDERS)} (default: all; fewer at 10**6 draws to save memory)",
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="also time the kernel's phases (sampling, gathering, model), in rounds before the rest",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="generations of fresh workers, each timed for --rounds rounds (default 1); a process's "
        "memory placement moves a version by a few percent, which more generations average out",
    )
    args = parser.parse_args(argv)
    draws = int(args.draws)
    kinds = [k for k in args.kinds.split(",") if k]
    if draws < 1 or args.rounds < 1 or args.processes < 1 or args.warmup < 0 or not set(kinds) <= set(KINDS):
        parser.error(
            "--draws, --rounds and --processes must be >= 1, --warmup >= 0, --kinds from kernel,simulate"
        )
    v1 = args.v1.resolve()
    if not (v1 / "nhsrisk" / "_kernels.py").exists():
        parser.error(f"no v1 checkout at {v1}: git worktree add {v1} {V1_COMMIT}")
    source = {"v1": v1, "v2": ROOT}
    sources = {version: fingerprint(path) for version, path in source.items()}
    names = [name for name in args.contenders.split(",") if name]
    if not names or not set(names) <= set(CONTENDERS):
        parser.error(f"--contenders must name some of {','.join(CONTENDERS)}")
    runners = contenders(names)
    for generation in range(args.processes):
        if args.processes > 1:
            print(f"workers, generation {generation + 1}/{args.processes}", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="versus-v1-") as scratch:
            try:
                for c in runners:
                    cache = args.cache_dir / c.version
                    cache.mkdir(parents=True, exist_ok=True)
                    c.start(source[c.version], cache, draws, args.threads, Path(scratch), args.phases)
                for c in runners:  # they compile in parallel; wait for each
                    c.info = c.read()
                    expected = str(source[c.version] / "nhsrisk" / "__init__.py")
                    if c.info["file"] != expected:
                        raise RuntimeError(f"{c.label} imported {c.info['file']}, not {expected}")
                    print(f"ready: {c.label} ({c.info['scenario']})", file=sys.stderr, flush=True)
                if args.phases:
                    for c in runners:
                        c.read()  # the phase kernels are compiled
                    run_rounds(runners, "phases", args.rounds, args.warmup)
                for kind in kinds:
                    run_rounds(runners, kind, args.rounds, args.warmup)
                    if kind == "kernel":
                        for c in runners:
                            c.ask("release")
            finally:
                for c in runners:
                    c.stop()
    for c in runners:  # a kind not timed reports as not a number
        for kind in KINDS:
            c.times[kind] = c.times[kind] or [(float("nan"), float("nan"))]
    after = {version: fingerprint(path) for version, path in source.items()}
    print(report(runners, draws, args.rounds * args.processes, args.warmup, sources, args.processes))
    if args.phases:
        print()
        print(phase_report(runners, draws))
    hashes = {version: text.split(" ", 1)[1] for version, text in sources.items()}
    if {version: text.split(" ", 1)[1] for version, text in after.items()} != hashes:
        print(f"\nNote: kernel sources changed during the run (now v1: {after['v1']}; v2: {after['v2']}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
