"""The run engine: a plan in, the kernel's arrays out, over any span of draws; and the results Dataset.

Everything that runs the numba kernel sits here, below the modules that decide
*what* to run: :mod:`nhsrisk.simulation` (one run, a run to a precision),
:mod:`nhsrisk.streaming` (chunked, lazy and streamed runs) and
:mod:`nhsrisk.experiments` (designs) all call :func:`run` and
:func:`to_dataset`, and none of them imports another to do so.

Draw ``i`` of a run depends only on ``(seed, i)`` and the scenario, so
:func:`run` may be called for any span ``start .. start + draws - 1``, in any
order, on any number of threads, and the pieces put back together bit for bit.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import threading
import warnings
from collections.abc import Collection, Iterator
from typing import Any

import numba
import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from nhsrisk import _design
from nhsrisk._format import format_bytes
from nhsrisk._kernels import KEPT_PIECE, simulate_kernel
from nhsrisk._model import MODEL_ARRAYS, OUTPUTS
from nhsrisk._plan import Plan, build_plan
from nhsrisk._progress import progress_bar
from nhsrisk._version import __version__
from nhsrisk.scenario import Scenario, scenario_attrs

__all__ = [
    "PROGRESS_SLICE",
    "RegeneratedInputs",
    "allocate_results",
    "available_memory",
    "check_finite",
    "check_result_size",
    "kernel_arguments",
    "memory_limit",
    "output_sizes",
    "result_bytes",
    "run",
    "sampler_arguments",
    "sampling_arguments",
    "sobol_uniforms",
    "to_dataset",
]

#: A run of more draws than this that keeps only some outputs evaluates them a piece at a time
#: (see :func:`~nhsrisk._kernels.simulate_kernel`'s ``keep``); a smaller one computes every
#: output at once and drops the others.
KEPT_SLICE = 2**14

#: Draws per kernel call at most. Ctrl-C is seen between calls (a compiled kernel does not
#: return to Python while it runs): a call of 2**17 draws takes about 0.15 s on 2 cores, and
#: 10**6 draws so sliced took as long as one call (2**16 slices: 5% longer).
PROGRESS_SLICE = 2**17

_NO_ROWS = np.empty(0, dtype=np.int64)
_NO_MIXING = np.empty((0, 0))


def output_sizes(plan: Plan) -> dict[str, int]:
    """Length of each output dimension other than ``draw``: ``year``, ``programme``, ``staff_group``."""
    return {
        "year": plan.planned_spend.shape[1],
        "programme": plan.planned_spend.shape[0],
        "staff_group": plan.group_idx.shape[0],
        "quintile": len(plan.segments.quintiles),
        "age_band": len(plan.segments.age_bands),
    }


def result_bytes(
    plan: Plan, draws: int, sampler: str = "random", outputs: Collection[str] | None = None
) -> int:
    """Bytes a run of ``draws`` draws holds: its outputs, its kept inputs and, for LHS or Sobol', its design.

    ``outputs`` names the outputs kept (None: all of them); a run that keeps some holds
    scratch arrays of every output for :data:`~nhsrisk._kernels.KEPT_PIECE` draws per
    thread besides, and a run of at most :data:`KEPT_SLICE` draws computes every output
    at once (so holds them all until it drops the others).

    Examples
    --------
    >>> from nhsrisk._plan import build_plan
    >>> from nhsrisk.scenario import load_scenario
    >>> result_bytes(build_plan(load_scenario()), 1) > 1_000  # bytes a draw
    True
    """
    sizes = output_sizes(plan)

    def output_bytes(names: Collection[str]) -> int:
        return sum(
            math.prod(sizes[d] for d in OUTPUTS[name].dims) * (1 if OUTPUTS[name].boolean else 8)
            for name in names
        )

    if outputs is not None and draws <= KEPT_SLICE:
        outputs = None  # a run this small computes every output at once and drops the others
    per_draw = output_bytes(OUTPUTS if outputs is None else outputs)
    if outputs is None:  # a run in slices draws its inputs again when they are read
        per_draw += 8 * len(plan.stored)
    if sampler != "random":
        per_draw += 8 * plan.uniforms_per_draw  # the design: a uniform per input and draw
    if outputs is None:
        return per_draw * draws
    scratch_per_draw = output_bytes(OUTPUTS) + 8 * len(plan.stored)
    most_threads = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set from the environment
    return per_draw * draws + scratch_per_draw * min(draws, KEPT_PIECE * most_threads)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


#: Environment variable that sets the memory limit of a run, in bytes (such as 8e9).
MEMORY_LIMIT_VARIABLE = "NHSRISK_MEMORY_LIMIT"


def memory_limit(limit: float | None = None) -> tuple[float, str] | None:
    """Return the most memory a run may hold, in bytes, and where that limit comes from (None: unknown).

    ``limit`` if given; else the environment variable :data:`MEMORY_LIMIT_VARIABLE`;
    else half of the memory available now.
    """
    if limit is not None:
        return float(limit), "the memory_limit given"
    text = os.environ.get(MEMORY_LIMIT_VARIABLE)
    if text:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"The environment variable {MEMORY_LIMIT_VARIABLE} must be a number of bytes > 0 (such as "
                f"8e9). Got {text!r} instead."
            )
        return value, f"{MEMORY_LIMIT_VARIABLE}={text}"
    available = available_memory()
    if available is None:
        return None
    return available / 2, f"half of the {format_bytes(available)} of memory available"


def check_result_size(
    needed: int, draws: int, caller: str | None, limit: float | None = None, *, command_line: bool = False
) -> None:
    """Refuse, before anything is allocated, a run whose results would not fit in memory.

    ``caller`` starts the message (None: no prefix, for a caller that adds its
    own); ``command_line`` words the ways out as options of ``nhsrisk run``.

    Raises
    ------
    MemoryError
        If ``needed`` bytes exceed the limit of :func:`memory_limit`; the
        message gives the estimate, the limit and the ways out.
    """
    allowed = memory_limit(limit)
    if allowed is None or needed <= allowed[0]:
        return
    if command_line:
        ways_out = (
            "Keep summary statistics only (--summary-only), run fewer draws, or raise the limit "
            f"({MEMORY_LIMIT_VARIABLE}=bytes)."
        )
    else:
        ways_out = (
            'Keep summary statistics only (keep="summary"), compute the draws chunk by chunk (chunks=N), '
            f"run fewer draws, or raise the limit (memory_limit=bytes, or {MEMORY_LIMIT_VARIABLE})."
        )
    prefix = f"{caller}: " if caller else ""
    raise MemoryError(
        f"{prefix}{draws:,} draws would hold about {format_bytes(needed)} of results in memory, more than "
        f"the limit of {format_bytes(allowed[0])} ({allowed[1]}). {ways_out}"
    )


#: Results of at least this many bytes are allocated without NumPy's transparent-huge-page advice.
#: With the kernel's Linux defaults (``enabled`` and ``defrag`` both ``madvise``) the advice makes
#: every first touch of a huge page compact memory first. Measured on this project's 24 GB VM,
#: ``simulate()`` of the default, rounds interleaved (2026-12-07): at 10**6 draws (5 GB) 5.5 s
#: median with the advice (1.6 to 8.9 s) and 2.6 s without (2.5 to 3.6 s); at 10**5 draws
#: (0.5 GB), where huge pages come free, 0.21 s with it and 0.29 s without.
HUGE_PAGE_ADVICE_LIMIT = 2**30


@contextlib.contextmanager
def _huge_page_advice(nbytes: int) -> Iterator[None]:
    """Allocate inside without NumPy's huge-page advice when ``nbytes`` reach the limit (then restore it)."""
    core = getattr(np, "_core", None) or np.core
    setter = getattr(core.multiarray, "_set_madvise_hugepage", None)
    if setter is None or nbytes < HUGE_PAGE_ADVICE_LIMIT:
        yield
        return
    previous = setter(False)
    try:
        yield
    finally:
        setter(previous)


def allocate_results(
    plan: Plan, draws: int, outputs: Collection[str] | None = None, *, inputs: bool = True
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Allocate the output arrays (shaped as :data:`~nhsrisk._model.OUTPUTS`, draws last) and kept inputs.

    ``outputs`` names the outputs to allocate (None: all), in the order of ``OUTPUTS``;
    ``inputs=False`` gives the inputs an array of no draws (they are not kept).
    Large results are allocated without the huge-page advice (see :data:`HUGE_PAGE_ADVICE_LIMIT`);
    the kernel's threads touch their pages first, each writing its own draws.
    """
    sizes = output_sizes(plan)
    shapes = {
        name: ((*(sizes[d] for d in out.dims), draws), np.dtype(bool if out.boolean else float))
        for name, out in OUTPUTS.items()
        if outputs is None or name in outputs
    }
    inputs_shape = (len(plan.stored), draws if inputs else 0)
    nbytes = 8 * math.prod(inputs_shape)
    nbytes += sum(math.prod(shape) * dtype.itemsize for shape, dtype in shapes.values())
    with _huge_page_advice(nbytes):
        arrays = {name: np.empty(shape, dtype=dtype) for name, (shape, dtype) in shapes.items()}
        return arrays, np.empty(inputs_shape)


def sampling_arguments(
    plan: Plan,
    sampler: int = _design.RANDOM,
    design_size: int = 1,
    design: np.ndarray | None = None,
    *,
    correlated: bool = True,
) -> tuple[Any, ...]:
    """Return the ``sampling`` argument of :func:`nhsrisk._kernels.simulate_kernel`.

    ``design`` (rows: the non-fixed inputs in plan order, columns: draws) is
    read by the ``DESIGN`` sampler; ``correlated=False`` leaves out the copula
    (tornado and Sobol' designs place each input exactly where they ask).
    """
    if design is None:
        design = np.zeros((1, 1))
    rows, mixing = (plan.copula_rows, plan.copula_mixing) if correlated else (_NO_ROWS, _NO_MIXING)
    return (np.int64(sampler), np.uint64(design_size), design, plan.design_rows, rows, mixing)


def sampler_arguments(
    plan: Plan, sampler: str, seed: int, start: int, draws: int, design_size: int | None = None
) -> tuple[Any, ...]:
    """Return the kernel's ``sampling`` argument for a named sampler (``"random"``, ``"lhs"``, ``"sobol"``).

    Designs are built here. ``design_size`` is the size of the whole Latin
    hypercube when these draws are one chunk of it.
    """
    if sampler == "random":
        return sampling_arguments(plan)
    if sampler == "lhs":
        return sampling_arguments(
            plan, _design.LATIN_HYPERCUBE, design_size=design_size if design_size is not None else draws
        )
    return sampling_arguments(
        plan, _design.DESIGN, design=sobol_uniforms(plan.uniforms_per_draw, seed, start, draws)
    )


def sobol_uniforms(dimensions: int, seed: int, start: int, draws: int) -> np.ndarray:
    """Scrambled Sobol' points ``start .. start + draws - 1``, one row per dimension.

    The scrambling (Owen's linear matrix scramble with a digital shift, as
    ``scipy.stats.qmc.Sobol`` does it) is seeded from ``seed``, so a run is
    reproducible; ``start`` must be a multiple of ``draws``, a power of two,
    so the points are one balanced block of the sequence.
    """
    from scipy.stats import qmc

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x50B0,)))
    engine = qmc.Sobol(d=max(1, dimensions), scramble=True, bits=52, rng=rng)
    with warnings.catch_warnings():
        # scipy warns unless start + draws is a power of two; a block [k 2^m, (k+1) 2^m) is balanced too
        warnings.filterwarnings("ignore", message="The balance properties of Sobol", category=UserWarning)
        # Sobol.fast_forward fails for bits > 32 (scipy 1.17), so earlier points are drawn and dropped
        skipped = 0
        while skipped < start:
            step = min(start - skipped, 2**16)
            engine.random(step)
            skipped += step
        points = engine.random(draws)
    return np.ascontiguousarray(points.T)


def kernel_arguments(
    plan: Plan,
    seed: int,
    start: int,
    inputs: np.ndarray,
    outputs: dict[str, np.ndarray],
    sampling: tuple[Any, ...] | None = None,
) -> tuple[Any, ...]:
    """Return the arguments of :func:`nhsrisk._kernels.simulate_kernel`, in order (span: every position)."""
    return (
        np.uint64(start),
        (np.int64(0), np.int64(outputs["npv"].shape[-1])),
        sampling if sampling is not None else sampling_arguments(plan),
        plan.codes,
        plan.params,
        plan.table_rows,
        plan.tables,
        plan.keys(seed),
        plan.store_rows,
        tuple(getattr(plan, name) for name in MODEL_ARRAYS),
        inputs,
        tuple(outputs[name] for name in OUTPUTS),
    )


@contextlib.contextmanager
def _numba_threads(threads: int | None) -> Iterator[None]:
    """Run the block on ``threads`` numba threads (unchanged if None), then restore the count."""
    if threads is None:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def run(
    plan: Plan,
    seed: int,
    start: int,
    draws: int,
    threads: int | None,
    kernel: Any = simulate_kernel,
    sampling: tuple[Any, ...] | None = None,
    progress: bool | None = False,
    buffers: tuple[dict[str, np.ndarray], np.ndarray] | None = None,
    outputs: Collection[str] | None = None,
    keep_inputs: bool = True,
) -> dict[str, np.ndarray]:
    """Sample and evaluate draws ``start .. start + draws - 1`` of a plan: the kernel's arrays.

    Returns the outputs by name (draws last) and, under ``"_inputs"``, the kept
    inputs (one row per :attr:`Plan.stored` entry). ``buffers`` (from
    :func:`allocate_results`, with room for at least ``draws`` draws) are
    filled instead of fresh arrays and views of their first ``draws`` draws
    are returned: a loop over chunks then touches its memory once. ``kernel``
    replaces :func:`~nhsrisk._kernels.simulate_kernel` (in a test). ``outputs``
    names the outputs to return (None: all): the kernel's threads then evaluate each
    piece of draws into scratch arrays of their own and copy out the named outputs
    and the inputs, which alone are held for every draw; with ``keep_inputs=False`` the inputs are not held
    either and ``"_inputs"`` is left out (see :class:`RegeneratedInputs`). Results
    do not depend on ``threads``, ``progress``, ``buffers`` or ``outputs``.
    """
    if outputs is not None:
        return _run_keeping(
            plan, seed, start, draws, threads, kernel, sampling, progress, outputs, keep_inputs
        )
    arrays, inputs = buffers if buffers is not None else allocate_results(plan, draws)
    arguments = list(kernel_arguments(plan, seed, start, inputs, arrays, sampling))

    def fill(offset: int, count: int) -> None:
        arguments[1] = (np.int64(offset), np.int64(count))
        kernel(*arguments)

    _in_slices(draws, PROGRESS_SLICE, threads, progress, fill)
    if buffers is not None:
        views = {name: array[..., :draws] for name, array in arrays.items()}
        views["_inputs"] = inputs[:, :draws]
        return views
    arrays["_inputs"] = inputs
    return arrays


def _in_slices(draws: int, step: int, threads: int | None, progress: bool | None, call: Any) -> None:
    """Call ``call(offset, count)`` for the draws in slices of ``step``, on ``threads`` numba threads.

    A draw depends only on its index, so slicing changes nothing in the results;
    Ctrl-C is honoured between slices, and the progress bar moves a step a slice.
    """
    with _numba_threads(threads), progress_bar(draws, "simulate", progress) as bar:
        for offset in range(0, draws, step):
            count = min(step, draws - offset)
            call(offset, count)
            bar.update(count)


def _run_keeping(
    plan: Plan,
    seed: int,
    start: int,
    draws: int,
    threads: int | None,
    kernel: Any,
    sampling: tuple[Any, ...] | None,
    progress: bool | None,
    kept: Collection[str],
    keep_inputs: bool,
) -> dict[str, np.ndarray]:
    """:func:`run` keeping only the outputs named in ``kept`` (and the inputs if ``keep_inputs``).

    The kernel's threads evaluate every output of a piece into their own scratch
    arrays and copy the kept ones out (``keep`` of
    :func:`~nhsrisk._kernels.simulate_kernel`): the thread that computes a draw
    first touches its memory, and nothing is copied after the kernel returns.
    """
    arrays, inputs = allocate_results(plan, draws, kept, inputs=keep_inputs)
    # the outputs not kept are passed as shapes only: arrays of no draws
    shapes = {**allocate_results(plan, 0)[0], **arrays}
    keep = tuple(position for position, name in enumerate(OUTPUTS) if name in arrays)
    arguments = list(kernel_arguments(plan, seed, start, inputs, shapes, sampling))

    def fill(offset: int, count: int) -> None:
        arguments[1] = (np.int64(offset), np.int64(count))
        kernel(*arguments, keep=keep, keep_inputs=keep_inputs)

    _in_slices(draws, PROGRESS_SLICE, threads, progress, fill)
    if keep_inputs:
        arrays["_inputs"] = inputs
    return arrays


class RegeneratedInputs:
    """The sampled inputs of a run, drawn again from their streams when they are read, not stored.

    Every input of draw ``i`` comes from the counter-based stream of ``(seed, i)``,
    so it can be computed again for any span of draws, bit for bit; a run keeping
    the headline outputs holds this instead of 8 bytes an input a draw (a third of
    its memory). Spans computed are cached, up to the bytes that storing every input
    would take, so reading every input costs one pass of the kernel on the draws
    asked for, and a dask chunk of draws is computed once for all its inputs.
    """

    def __init__(
        self, scenario: Scenario, plan: Plan, seed: int, start: int, draws: int, sampler: str
    ) -> None:
        if sampler not in ("random", "lhs"):  # a Sobol' design is one block: it cannot be cut
            raise ValueError(f"inputs of a {sampler!r} run are kept, not drawn again")
        self.scenario, self.plan = scenario, plan
        self.seed, self.start, self.draws, self.sampler = seed, start, draws, sampler
        self.shape = (len(plan.stored), draws)
        self._lock = threading.Lock()
        self._cached: list[tuple[int, np.ndarray]] = []  # (first position, inputs), oldest first

    def columns(self, lo: int, hi: int) -> np.ndarray:
        """Return the inputs at positions ``lo .. hi - 1`` (draws ``start + lo`` on), a row an input."""
        with self._lock:
            for first, block in self._cached:
                if first <= lo and hi <= first + block.shape[1]:
                    return block[:, lo - first : hi - first]
            count = hi - lo
            design_size = self.draws if self.sampler == "lhs" else None
            sampling = sampler_arguments(
                self.plan, self.sampler, self.seed, self.start + lo, count, design_size
            )
            block = run(self.plan, self.seed, self.start + lo, count, None, sampling=sampling, outputs=())[
                "_inputs"
            ]
            self._cached.append((lo, block))
            while sum(b.nbytes for _, b in self._cached) > 8 * math.prod(self.shape):
                self._cached.pop(0)
            return block

    def __reduce__(self) -> tuple[Any, ...]:
        # The scenario travels as its TOML (kilobytes; the plan's inverse-CDF tables are megabytes)
        # and the plan is built again from it. The cache and the lock stay behind: a copy draws
        # its inputs again when it reads them.
        return (
            _regenerated_inputs,
            (self.scenario.to_toml(), self.seed, self.start, self.draws, self.sampler),
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> RegeneratedInputs:
        return self  # nothing in it changes once made


def _regenerated_inputs(toml: str, seed: int, start: int, draws: int, sampler: str) -> RegeneratedInputs:
    """Rebuild a pickled :class:`RegeneratedInputs` from its scenario's TOML."""
    scenario = Scenario.from_toml(toml)
    return RegeneratedInputs(scenario, build_plan(scenario), seed, start, draws, sampler)


class _InputVariable(BackendArray):
    """One sampled input of a run (``(draw,)`` or ``(year, draw)``), read from :class:`RegeneratedInputs`."""

    def __init__(self, source: RegeneratedInputs, rows: list[int], per_year: bool) -> None:
        self.source, self.rows, self.per_year = source, rows, per_year
        draws = source.shape[1]
        self.shape = (len(rows), draws) if per_year else (draws,)
        self.dtype = np.dtype(float)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER, self._read)

    def _read(self, key: tuple[Any, ...]) -> np.ndarray:
        positions = np.arange(self.shape[-1])[key[-1]]
        if positions.size == 0:
            block = np.empty((len(self.rows), 0))
        else:
            lo, hi = int(positions.min()), int(positions.max()) + 1
            block = self.source.columns(lo, hi)[self.rows][:, positions - lo]
        return np.array(block[key[0]] if self.per_year else block[0], order="C")  # 0-d for one draw


def check_finite(plan: Plan, arrays: dict[str, np.ndarray], start: int) -> None:
    """Refuse to return a non-finite result.

    NPV and the benefit-cost ratio aggregate every per-year output, so a NaN or
    infinity anywhere shows up in one of them, except an undiscounted total that
    overflows while its discounted sum does not: the last year's cumulative value
    covers that (value is never negative, so an infinite year stays infinite).
    Checking these costs 24 bytes a draw.

    Raises
    ------
    FloatingPointError
        Naming the output, the first bad draw and that draw's sampled inputs.
    """
    # (a run that keeps only some outputs keeps these three: see HEADLINE_OUTPUTS)
    checked = {"npv": arrays["npv"], "bcr": arrays["bcr"], "cumulative_value": arrays["cumulative_value"][-1]}
    for name, values in checked.items():
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            kept = arrays["_inputs"]
            column = kept.columns(i, i + 1)[:, 0] if isinstance(kept, RegeneratedInputs) else kept[:, i]
            inputs = {stored.variable: float(column[row]) for row, stored in enumerate(plan.stored)}
            raise FloatingPointError(
                f"simulate produced a non-finite {name} ({values[i]!r}) in draw {start + i} "
                f"({bad.size} draws in all); the sampled inputs of that draw were {inputs}"
            )


def to_dataset(scenario: Scenario, plan: Plan, arrays: dict[str, Any], seed: int, start: int) -> xr.Dataset:
    """Label the kernel's arrays (NumPy or dask) as the results Dataset of :func:`nhsrisk.simulate`."""
    draws = arrays["npv"].shape[-1]
    years = list(scenario.years)
    coords: dict[str, Any] = {
        "draw": (
            "draw",
            np.arange(start, start + draws, dtype=np.int64),
            {"long_name": "Monte Carlo draw index"},
        ),
        "year": ("year", years, {"long_name": "Financial year (April to March)"}),
        "programme": ("programme", list(scenario.programmes), {"long_name": "Programme"}),
        "staff_group": ("staff_group", list(scenario.staff_groups), {"long_name": "Staff group"}),
        "quintile": (
            "quintile",
            list(plan.segments.quintiles),
            {"long_name": "Deprivation quintile (IMD), most deprived first"},
        ),
        "age_band": ("age_band", list(plan.segments.age_bands), {"long_name": "Age band (years)"}),
        "programme_label": (
            "programme",
            [p.label for p in scenario.programmes.values()],
            {"long_name": "Programme (display name)"},
        ),
        "staff_group_label": (
            "staff_group",
            [g.label for g in scenario.staff_groups.values()],
            {"long_name": "Staff group (display name)"},
        ),
    }
    data_vars: dict[str, Any] = {}
    for name, out in OUTPUTS.items():
        if name not in arrays:  # a run that keeps some outputs
            continue
        attrs: dict[str, Any] = {"long_name": out.long_name, "units": out.units}
        if out.horizon:
            attrs["horizon"] = f"{scenario.years[0]} to {scenario.years[-1]} (appraisal period)"
        data_vars[name] = ((*out.dims, "draw"), arrays[name], attrs)

    inputs = arrays["_inputs"]
    # A per-year input (such as the raid fraction) has one stream, and one row, per year, in year order.
    per_year: dict[str, tuple[list[int], dict[str, Any]]] = {}
    for row, stored in enumerate(plan.stored):
        attrs = {
            "long_name": stored.doc[:1].upper() + stored.doc[1:],
            "label": scenario.input_label(stored.variable),
            "units": stored.unit,
            "source": stored.quantity.source,
            "distribution": stored.quantity.distribution.describe(),
            "sampled_input": 1,
        }
        if stored.year is None:
            data_vars[stored.variable] = ("draw", _input_rows(inputs, [row], False), attrs)
        else:
            per_year.setdefault(stored.variable, ([], attrs))[0].append(row)
    for variable, (rows, attrs) in per_year.items():
        data_vars[variable] = (("year", "draw"), _input_rows(inputs, rows, True), attrs)

    data_vars["planned_spend"] = (
        ("year", "programme"),
        plan.planned_spend.T.copy(),
        {"long_name": "Planned (announced) capital spend, real terms", "units": "GBP/year"},
    )
    data_vars["budget_change"] = (
        ("year", "programme"),
        plan.budget_change.T.copy(),
        {
            "long_name": "Budget changes to the announced plan, real terms (negative: a cut)",
            "units": "GBP/year",
        },
    )
    population = scenario.population
    if population is not None:
        # who the segment outputs are about, for benefit per head (nhsrisk.stats.equity)
        people = population.people.distribution.mean()
        for dim, shares in (("quintile", population.quintile_share), ("age_band", population.age_share)):
            data_vars[f"people_by_{dim}"] = (
                (dim,),
                people * np.asarray(shares.values) / sum(shares.values),
                {"long_name": f"People in each {dim.replace('_', ' ')}", "units": "persons"},
            )
    data_vars["claimed_return"] = (
        (),
        scenario.target.claimed_return.distribution.mean(),
        {
            "long_name": f"Claimed return (target): cumulative undiscounted value by {scenario.target_year}",
            "units": "GBP",
            "year": scenario.target_year,
            "description": scenario.target.description,
            "source": scenario.target.claimed_return.source,
        },
    )
    text = scenario.to_toml()
    attrs = {
        "title": f"nhsrisk simulation of {scenario.name}: {scenario.title}",
        **scenario_attrs(scenario),
        "scenario": text,
        "scenario_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "seed": str(seed),
        "start": start,
        "n_draws": draws,
        "target_year": scenario.target_year,
        "claim_window": f"{scenario.years[0]} to {scenario.target_year}",
        "appraisal_period": f"{scenario.years[0]} to {scenario.years[-1]}",
        "currency": "GBP",
        "discount_rate": scenario.discount_rate.distribution.mean(),
        "long_term_discount_rate": scenario.long_term_discount_rate.distribution.mean(),
        "nhsrisk_version": __version__,
        "uniforms_per_draw": plan.uniforms_per_draw,
    }
    # Variables built on the fast path: otherwise xarray's first Dataset checks every
    # array against the duck-array libraries it knows, importing dask.array (half a
    # second in a fresh process) only to find plain NumPy arrays.
    return xr.Dataset(
        data_vars={name: _numpy_variable(*spec) for name, spec in data_vars.items()},
        coords={name: _numpy_variable(*spec) for name, spec in coords.items()},
        attrs=attrs,
    )


def _input_rows(inputs: Any, rows: list[int], per_year: bool) -> Any:
    """Return rows of the kept inputs (NumPy or dask), or a lazy array of a :class:`RegeneratedInputs`."""
    if isinstance(inputs, RegeneratedInputs):
        return indexing.LazilyIndexedArray(_InputVariable(inputs, rows, per_year))
    return inputs[rows] if per_year else inputs[rows[0]]


def _numpy_variable(dims: str | tuple[str, ...], data: Any, attrs: dict[str, Any]) -> xr.Variable:
    if isinstance(data, np.ndarray | list | float | int):
        return xr.Variable(dims, np.asarray(data), attrs, fastpath=True)
    if isinstance(data, indexing.LazilyIndexedArray):
        return xr.Variable(dims, data, attrs, fastpath=True)  # inputs drawn again when read
    return xr.Variable(dims, data, attrs)  # a dask array, kept lazy
