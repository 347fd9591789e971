"""``simulate``: validate, flatten the scenario, run the numba kernel, build an xarray Dataset."""

from __future__ import annotations

import hashlib
import numbers
from pathlib import Path
from typing import Any

import numba
import numpy as np
import xarray as xr

from nhsrisk import _design
from nhsrisk._kernels import simulate_kernel
from nhsrisk._model import MODEL_ARRAYS, OUTPUTS
from nhsrisk._plan import Plan, build_plan
from nhsrisk._progress import _NoBar as _NoBarType
from nhsrisk._progress import check_progress, progress_bar
from nhsrisk._validate import check_count, resolve_seed
from nhsrisk._version import __version__
from nhsrisk.scenario import Scenario, load_scenario

__all__ = ["OUTPUTS", "SAMPLERS", "simulate"]

#: Draws per kernel call when a progress bar is shown.
PROGRESS_SLICE = 2**16

#: Sampling designs accepted by ``simulate(..., sampler=...)``.
SAMPLERS = ("random", "lhs", "sobol")


def simulate(
    scenario: Scenario | str | Path = "spring-budget-2024",
    draws: int = 100_000,
    seed: int | None = None,
    *,
    start: int = 0,
    threads: int | None = None,
    sampler: str = "random",
    precision: float | None = None,
    precision_output: str = "npv",
    max_draws: int = 10_000_000,
    progress: bool | None = None,
    chunks: int | None = None,
    keep: str = "all",
    client: Any = None,
) -> xr.Dataset:
    """Run the Monte Carlo simulation of a scenario.

    Parameters
    ----------
    scenario : Scenario or str or path-like, default="spring-budget-2024"
        A :class:`~nhsrisk.Scenario`, a built-in scenario name, a TOML file or a
        saved results file (see :func:`~nhsrisk.load_scenario`).
    draws : int, default=100_000
        Number of Monte Carlo draws (>= 1).
    seed : int, optional
        Seed in [0, 2**128). ``None`` draws fresh entropy, recorded in
        ``ds.attrs["seed"]`` so the run can be repeated.
    start : int, default=0
        Index of the first draw. Draw ``i`` depends only on ``(seed, i)``:
        ``simulate(draws=1000)`` equals ``simulate(draws=600)`` followed by
        ``simulate(draws=400, start=600)``.
    threads : int, optional
        Number of worker threads (default: ``numba.get_num_threads()``, all cores unless
        ``numba.set_num_threads`` or ``NUMBA_NUM_THREADS`` says otherwise). Results do not
        depend on it.
    sampler : {"random", "lhs", "sobol"}, default="random"
        Sampling design. ``"random"``: plain Monte Carlo. ``"lhs"``: Latin
        hypercube over the ``draws`` draws (every input's range is cut into
        ``draws`` equally likely strata, one draw in each; ``start`` must be 0).
        ``"sobol"``: scrambled Sobol' points (``scipy.stats.qmc.Sobol``, one
        dimension per uncertain input); ``draws`` must be a power of two and
        ``start`` a multiple of it. The standard-error formulas of
        :mod:`nhsrisk.stats` assume independent draws: for ``"lhs"`` they are
        conservative (Owen 1997), for ``"sobol"`` they do not apply.
    precision : float, optional
        Keep adding draws, ``draws`` at a time at first, until the Monte Carlo
        standard error of the mean of ``precision_output`` is at most
        ``precision`` (in that output's units, GBP for ``"npv"``; for an output
        with other dimensions, the largest standard error), or ``max_draws`` is
        reached (then a :class:`RuntimeWarning`). Only with ``sampler="random"``.
        The outcome is recorded in the attrs ``precision_reached`` and
        ``precision_mcse``.
    precision_output : str, default="npv"
        Output variable whose mean ``precision`` is about (see :data:`OUTPUTS`).
    max_draws : int, default=10_000_000
        Cap on draws when ``precision`` is given.
    progress : bool, optional
        Progress bar (tqdm's, a widget in Jupyter). Default: shown only in a
        terminal or a notebook, once the run has taken a second; never in
        logs. ``True`` always, ``False`` never. Results do not depend on it.
    chunks : int, optional
        Draws per chunk. With ``keep="all"`` the result is dask-backed: each
        chunk is one lazy kernel call, computed where and when it is needed
        (on a ``dask.distributed`` cluster if one is active), and equal bit
        for bit to the unchunked run. With ``keep="summary"``: draws per step
        (default 2**17).
    keep : {"all", "summary"}, default="all"
        ``"summary"`` keeps no draws: summary statistics of ``cumulative_value``,
        ``npv`` and ``bcr`` are computed chunk by chunk in bounded memory (exact
        mean and variance, KLL-sketch quantiles with their stated rank error,
        exact probabilities); see :func:`nhsrisk.streaming.streaming_summary`.
        For runs too big to hold, such as 10**8 draws.
    client : dask.distributed.Client, optional
        With ``keep="summary"``, run the chunks as tasks on this cluster.

    Returns
    -------
    xarray.Dataset
        Dimensions ``year`` (labels such as ``"2025/26"``), ``programme``,
        ``staff_group`` and ``draw`` (last, so that the draws of one year are
        contiguous in memory). Every uncertain input is a variable
        named by its key path (``"risks.digital_exclusion"``); outputs are
        listed in :data:`OUTPUTS`. Attrs hold the scenario as TOML, its hash,
        the seed (as a string: it may exceed 64 bits) and the package version.

    Examples
    --------
    >>> import nhsrisk
    >>> ds = nhsrisk.simulate(draws=1_000, seed=42)
    >>> ds["npv"].dims
    ('draw',)
    >>> ds["cumulative_value"].sizes["year"]
    5
    """
    scenario = load_scenario(scenario)
    draws = check_count(draws, "draws", "simulate")
    start = check_count(start, "start", "simulate", minimum=0)
    if threads is not None:
        threads = check_count(threads, "threads", "simulate")
        most = numba.config.NUMBA_NUM_THREADS
        if threads > most:
            raise ValueError(
                f"The 'threads' parameter of simulate must be an int in [1, {most}]. Got {threads!r} instead."
            )
    sampler = _check_choice(sampler, "sampler", SAMPLERS)
    if sampler == "lhs" and start != 0:
        raise ValueError(
            "The 'start' parameter of simulate must be 0 with sampler='lhs' (a Latin hypercube is "
            f"one design of 'draws' draws). Got {start!r} instead."
        )
    if sampler == "lhs" and draws > 2**32:
        raise ValueError(
            "The 'draws' parameter of simulate must be at most 2**32 with sampler='lhs'. "
            f"Got {draws!r} instead."
        )
    if sampler == "sobol":
        _check_sobol_size(draws, start)
    max_draws = check_count(max_draws, "max_draws", "simulate")
    if precision is not None:
        precision = _check_positive(precision, "precision")
        if sampler != "random":
            raise ValueError(
                "The 'precision' parameter of simulate needs sampler='random': the standard error it "
                f"stops on assumes independent draws. Got sampler={sampler!r} instead."
            )
        if precision_output not in OUTPUTS:
            raise ValueError(
                f"The 'precision_output' parameter of simulate must be one of {sorted(OUTPUTS)}. "
                f"Got {precision_output!r} instead."
            )
        if max_draws < draws:
            raise ValueError(
                f"The 'max_draws' parameter of simulate must be >= draws ({draws}). "
                f"Got {max_draws!r} instead."
            )
    progress = check_progress(progress, "simulate")
    keep = _check_choice(keep, "keep", ("all", "summary"))
    if chunks is not None:
        chunks = check_count(chunks, "chunks", "simulate")
        if sampler == "sobol" and (chunks & (chunks - 1) or draws % chunks or start % chunks):
            raise ValueError(
                "The 'chunks' parameter of simulate must be a power of two dividing draws and start with "
                f"sampler='sobol' (each chunk one balanced block). Got chunks={chunks!r} instead."
            )
    if keep == "summary" and (sampler != "random" or precision is not None):
        raise ValueError(
            "The 'keep' parameter of simulate can be 'summary' only with sampler='random' and no precision. "
            f"Got keep={keep!r} with sampler={sampler!r} instead."
        )
    if client is not None and keep != "summary":
        raise ValueError(
            "The 'client' parameter of simulate is for keep='summary'; a chunked run (chunks=N) is computed "
            "by whichever dask scheduler is active when you load it."
        )
    if chunks is not None and precision is not None:
        raise ValueError("The 'chunks' parameter of simulate cannot be combined with precision.")
    seed = resolve_seed(seed, "simulate")
    if keep == "summary":
        from nhsrisk.streaming import DEFAULT_CHUNK, streaming_summary

        return streaming_summary(
            scenario,
            seed,
            start,
            draws,
            chunk=chunks or DEFAULT_CHUNK,
            threads=threads,
            client=client,
            progress=progress,
        )
    plan = build_plan(scenario)
    if chunks is not None:
        from nhsrisk.streaming import lazy_results

        ds = lazy_results(scenario, seed, start, draws, chunks, sampler, threads)
        ds.attrs["sampler"] = sampler
        if plan.copula_rows.size:
            ds.attrs["correlated_inputs"] = list(scenario.correlations.inputs)
        return ds
    if precision is None:
        sampling = _sampling(plan, sampler, seed, start, draws)
        arrays = _run(plan, seed, start, draws, threads, sampling=sampling, progress=progress)
        _check_finite(plan, arrays, start)
        ds = _to_dataset(scenario, plan, arrays, seed, start)
    else:
        ds = _run_to_precision(
            scenario, plan, seed, start, draws, threads, precision, precision_output, max_draws, progress
        )
    ds.attrs["sampler"] = sampler
    if plan.copula_rows.size:
        ds.attrs["correlated_inputs"] = list(scenario.correlations.inputs)
    return ds


def _check_choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"The {name!r} parameter of simulate must be one of {list(allowed)}. Got {value!r} instead."
        )
    return value


def _check_positive(value: Any, name: str) -> float:
    if (
        isinstance(value, bool | np.bool_)
        or not isinstance(value, numbers.Real)
        or not (value > 0 and np.isfinite(value))
    ):
        raise ValueError(
            f"The {name!r} parameter of simulate must be a finite number > 0. Got {value!r} instead."
        )
    return float(value)


def _check_sobol_size(draws: int, start: int) -> None:
    if draws & (draws - 1):
        low = 1 << (draws.bit_length() - 1)
        raise ValueError(
            "The 'draws' parameter of simulate must be a power of two with sampler='sobol' (the balance "
            f"of Sobol' points needs it), such as {low} or {2 * low}. Got {draws!r} instead."
        )
    if start % draws:
        raise ValueError(
            "The 'start' parameter of simulate must be a multiple of draws with sampler='sobol', so that the "
            f"draws are one block of the Sobol' sequence. Got start={start!r} with draws={draws} instead."
        )


def _sampling(
    plan: Plan, sampler: str, seed: int, start: int, draws: int, design_size: int | None = None
) -> tuple[Any, ...]:
    """Return the kernel's ``sampling`` argument for a named sampler (designs are built here).

    ``design_size`` is the size of the whole Latin hypercube when these draws are one chunk of it.
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
    import warnings

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


def _run_to_precision(
    scenario: Scenario,
    plan: Plan,
    seed: int,
    start: int,
    draws: int,
    threads: int | None,
    precision: float,
    output: str,
    max_draws: int,
    progress: bool | None = None,
) -> xr.Dataset:
    """Add chunks of draws until the standard error of ``output``'s mean is at most ``precision``."""
    import warnings

    chunks: list[dict[str, np.ndarray]] = []
    done = 0
    chunk = draws
    while True:
        arrays = _run(plan, seed, start + done, chunk, threads, progress=progress)
        _check_finite(plan, arrays, start + done)
        chunks.append(arrays)
        done += chunk
        mean = sum(c[output].sum(axis=-1, dtype=float) for c in chunks) / done
        # two passes over the draws kept so far: exact, and cheap next to simulating them
        squares = sum(((c[output] - mean[..., None]) ** 2).sum(axis=-1) for c in chunks)
        sd = np.sqrt(squares / (done - 1)) if done > 1 else np.full_like(mean, np.inf)
        mcse = float(np.max(sd / np.sqrt(done)))
        if mcse <= precision or done >= max_draws:
            break
        needed = int(np.ceil(float(np.max(sd)) ** 2 / precision**2 * 1.05))
        chunk = int(min(max(needed - done, draws), max_draws - done))
    merged = {name: np.concatenate([c[name] for c in chunks], axis=-1) for name in chunks[0]}
    ds = _to_dataset(scenario, plan, merged, seed, start)
    reached = mcse <= precision
    ds.attrs.update(
        precision=precision,
        precision_output=output,
        precision_mcse=mcse,
        precision_reached=int(reached),
    )
    if not reached:
        warnings.warn(
            f"simulate stopped at max_draws={max_draws} with the standard error of the mean of {output} at "
            f"{mcse:.6g}, above the requested precision {precision:.6g}; about "
            f"{int(np.ceil(float(np.max(sd)) ** 2 / precision**2))} draws are needed.",
            RuntimeWarning,
            stacklevel=3,
        )
    return ds


def _check_finite(plan: Plan, arrays: dict[str, np.ndarray], start: int) -> None:
    """Refuse to return a non-finite result.

    NPV and the benefit-cost ratio aggregate every per-year output, so a NaN or
    infinity anywhere shows up in one of them, except an undiscounted total that
    overflows while its discounted sum does not: the last year's cumulative value
    covers that (value is never negative, so an infinite year stays infinite).
    Checking these costs 24 bytes a draw.
    """
    checked = {"npv": arrays["npv"], "bcr": arrays["bcr"], "cumulative_value": arrays["cumulative_value"][-1]}
    for name, values in checked.items():
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            inputs = {
                stored.variable: float(arrays["_inputs"][row, i]) for row, stored in enumerate(plan.stored)
            }
            raise FloatingPointError(
                f"simulate produced a non-finite {name} ({values[i]!r}) in draw {start + i} "
                f"({bad.size} draws in all); the sampled inputs of that draw were {inputs}"
            )


def allocate_results(plan: Plan, draws: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Allocate the output arrays (shaped as :data:`OUTPUTS`, draws last) and the kept-inputs matrix."""
    sizes = {
        "year": plan.planned_spend.shape[1],
        "programme": plan.planned_spend.shape[0],
        "staff_group": plan.group_idx.shape[0],
    }
    outputs = {
        name: np.empty((*(sizes[d] for d in out.dims), draws), dtype=bool if out.boolean else float)
        for name, out in OUTPUTS.items()
    }
    return outputs, np.empty((len(plan.stored), draws))


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


_NO_ROWS = np.empty(0, dtype=np.int64)
_NO_MIXING = np.empty((0, 0))


def kernel_arguments(
    plan: Plan,
    seed: int,
    start: int,
    inputs: np.ndarray,
    outputs: dict[str, np.ndarray],
    sampling: tuple[Any, ...] | None = None,
) -> tuple[Any, ...]:
    """Return the arguments of :func:`nhsrisk._kernels.simulate_kernel`, in order."""
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


def _run(
    plan: Plan,
    seed: int,
    start: int,
    draws: int,
    threads: int | None,
    kernel: Any = simulate_kernel,
    sampling: tuple[Any, ...] | None = None,
    progress: bool | None = False,
) -> dict[str, np.ndarray]:
    outputs, inputs = allocate_results(plan, draws)
    arguments = list(kernel_arguments(plan, seed, start, inputs, outputs, sampling))
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        with progress_bar(draws, "simulate", progress) as bar:
            if isinstance(bar, _NoBarType):
                kernel(*arguments)
            else:
                # the same draws in slices (a draw depends only on its index): one bar step per slice
                step = max(PROGRESS_SLICE, -(-draws // 100))
                for offset in range(0, draws, step):
                    count = min(step, draws - offset)
                    arguments[1] = (np.int64(offset), np.int64(count))
                    kernel(*arguments)
                    bar.update(count)
    finally:
        if threads is not None:
            numba.set_num_threads(previous)
    outputs["_inputs"] = inputs
    return outputs


def _to_dataset(
    scenario: Scenario, plan: Plan, arrays: dict[str, np.ndarray], seed: int, start: int
) -> xr.Dataset:
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
        attrs = {"long_name": out.long_name, "units": out.units}
        if out.horizon:
            attrs["horizon"] = f"{scenario.years[0]} to {scenario.years[-1]} (appraisal period)"
        data_vars[name] = ((*out.dims, "draw"), arrays[name], attrs)

    inputs = arrays["_inputs"]
    # A per-year input (such as the raid fraction) has one stream, and one row, per year, in year order.
    per_year: dict[str, tuple[list[int], dict[str, Any]]] = {}
    for row, stored in enumerate(plan.stored):
        attrs = {
            "long_name": stored.doc[:1].upper() + stored.doc[1:],
            "units": stored.unit,
            "source": stored.quantity.source,
            "distribution": stored.quantity.distribution.describe(),
            "sampled_input": 1,
        }
        if stored.year is None:
            data_vars[stored.variable] = ("draw", inputs[row], attrs)
        else:
            per_year.setdefault(stored.variable, ([], attrs))[0].append(row)
    for variable, (rows, attrs) in per_year.items():
        data_vars[variable] = (("year", "draw"), inputs[rows], attrs)

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
        "scenario_name": scenario.name,
        "scenario": text,
        "scenario_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "seed": str(seed),
        "start": start,
        "n_draws": draws,
        "target_year": scenario.target_year,
        "claim_window": f"{scenario.years[0]} to {scenario.target_year}",
        "appraisal_period": f"{scenario.years[0]} to {scenario.years[-1]}",
        "price_base": scenario.price_base,
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


def _numpy_variable(dims: str | tuple[str, ...], data: Any, attrs: dict[str, Any]) -> xr.Variable:
    if isinstance(data, np.ndarray | list | float | int):
        return xr.Variable(dims, np.asarray(data), attrs, fastpath=True)
    return xr.Variable(dims, data, attrs)  # a dask array, kept lazy
