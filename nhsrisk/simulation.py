"""``simulate``: validate, flatten the scenario, run the numba kernel, build an xarray Dataset."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numba
import numpy as np
import xarray as xr

from nhsrisk._engine import KEPT_SLICE, RegeneratedInputs, check_result_size, result_bytes
from nhsrisk._engine import check_finite as _check_finite
from nhsrisk._engine import run as _run
from nhsrisk._engine import sampler_arguments as _sampling
from nhsrisk._engine import to_dataset as _to_dataset
from nhsrisk._model import HEADLINE_OUTPUTS, OUTPUTS
from nhsrisk._plan import Plan, build_plan
from nhsrisk._progress import check_progress
from nhsrisk._validate import _described, _message, check_count, check_names, resolve_seed
from nhsrisk.scenario import DEFAULT_SCENARIO, Scenario, load_scenario, scenario_from_attrs
from nhsrisk.streaming import DEFAULT_CHUNK, lazy_results, streaming_summary

__all__ = ["HEADLINE_OUTPUTS", "OUTPUTS", "SAMPLERS", "simulate", "with_outputs"]

#: Sampling designs accepted by ``simulate(..., sampler=...)``.
SAMPLERS = ("random", "lhs", "sobol")


def simulate(
    scenario: Scenario | str | Path = DEFAULT_SCENARIO,
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
    keep: str = "headline",
    outputs: Sequence[str] | None = None,
    client: Any = None,
    memory_limit: float | None = None,
) -> xr.Dataset:
    """Run the Monte Carlo simulation of a scenario.

    Parameters
    ----------
    scenario : Scenario or str or path-like, default="as-announced"
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
        Draws per chunk. With ``keep="all"`` (or ``"headline"``) the result is dask-backed: each
        chunk is one lazy kernel call, computed where and when it is needed
        (on a ``dask.distributed`` cluster if one is active), and equal bit
        for bit to the unchunked run (needs dask: ``pip install 'nhsrisk[scale]'``,
        else an ImportError saying so). With ``keep="summary"``: draws per step
        (default 2**17).
    keep : {"headline", "all", "summary"}, default="headline"
        ``"headline"`` gives every sampled input and the outputs that summaries,
        payback, the fan chart, the exceedance curve, rank correlations,
        :func:`~nhsrisk.budget_change_effect` and :func:`~nhsrisk.update` read
        (:data:`HEADLINE_OUTPUTS`: the per-draw totals such as ``npv`` and
        ``bcr``, ``cumulative_value``, and by year and programme ``spend``,
        ``running_cost``, ``dual_running_cost``, ``uptake`` and ``value``), about
        1.7 kB a draw for the default scenario. The values are those of ``"all"``
        bit for bit; a run of more than 16,384 draws does not store its inputs
        (1 kB a draw) but draws them again from their streams, bit for bit,
        when one is first read (lazily, as xarray reads a file). ``"all"`` keeps every output
        (:data:`OUTPUTS`), about 5.5 kB a draw: hours released by staff group,
        value by kind, funding adequacy, additional uptake and net benefit besides.
        ``"summary"`` keeps no draws: summary statistics of ``cumulative_value``,
        ``npv`` and ``bcr`` are computed chunk by chunk in bounded memory (exact
        mean and variance, KLL-sketch quantiles with their stated rank error,
        exact probabilities); see :func:`nhsrisk.streaming.streaming_summary`.
        For runs too big to hold, such as 10**8 draws. Needs Apache DataSketches
        (``pip install 'nhsrisk[scale]'``, else an ImportError saying so).
    outputs : sequence of str, optional
        Outputs to keep besides the headline ones (names from :data:`OUTPUTS`),
        such as ``["hours_released"]``. A run can add them later, bit for bit,
        with ``ds.nhsrisk.with_outputs(...)``.
    client : dask.distributed.Client, optional
        With ``keep="summary"``, run the chunks as tasks on this cluster.
    memory_limit : float, optional
        Most bytes of results the run may hold in memory. Default: the
        environment variable ``NHSRISK_MEMORY_LIMIT`` if set, else half of the
        memory available. A run whose results would exceed it (every output
        and kept input for every draw: about 5 kB a draw for the default
        scenario) is refused before anything is allocated. Runs with
        ``keep="summary"`` or ``chunks`` hold a chunk at a time and are not checked.

    Returns
    -------
    xarray.Dataset
        Dimensions ``year`` (the appraisal period, labels such as ``"2025/26"``),
        ``programme``, ``staff_group`` and ``draw`` (last, so that the draws of
        one year are contiguous in memory). Every uncertain input is a variable
        named by its key path (``"risks.digital_exclusion"``); the outputs kept
        are those ``keep`` and ``outputs`` name, from :data:`OUTPUTS` (money in
        GBP at ``price_base`` prices).
        Attrs hold the scenario as TOML, its hash, the seed (as a string: it
        may exceed 64 bits), both horizons (``claim_window``, up to
        ``target_year``, and ``appraisal_period``) and the package version.

    Examples
    --------
    >>> import nhsrisk
    >>> ds = nhsrisk.simulate(draws=1_000, seed=42)
    >>> ds["npv"].dims
    ('draw',)
    >>> ds["cumulative_value"].sizes["year"]  # the appraisal period: ten years from 2025/26
    10
    """
    scenario = load_scenario(scenario)
    draws = check_count(draws, "draws", "simulate")
    start = check_count(start, "start", "simulate", minimum=0)
    if threads is not None:
        threads = check_count(threads, "threads", "simulate")
        most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set from the environment at import
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
    keep = _check_choice(keep, "keep", ("headline", "all", "summary"))
    extra = _check_outputs(outputs, keep)
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
    if memory_limit is not None:
        memory_limit = _check_positive(memory_limit, "memory_limit")
    seed = resolve_seed(seed, "simulate")
    if keep == "summary":  # bounded memory: a chunk at a time, so no size check
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
    # every argument is checked first; then the size of the result, before anything is allocated
    plan = build_plan(scenario)
    # A Sobol' design is one block of the run's own positions, so it cannot be run in slices:
    # such a run computes every output and keeps the headline ones.
    kept_names = None if keep == "all" else tuple(n for n in OUTPUTS if n in HEADLINE_OUTPUTS or n in extra)
    # Slices through scratch arrays pay off only beyond one slice; a smaller run computes every
    # output at once and drops the others.
    sliced = (
        kept_names is not None
        and draws > KEPT_SLICE
        and chunks is None
        and precision is None
        and sampler != "sobol"
    )
    kept = kept_names if sliced else None
    if chunks is None:
        check_result_size(result_bytes(plan, draws, sampler, kept), draws, "simulate", memory_limit)
    if chunks is not None:
        ds = lazy_results(scenario, seed, start, draws, chunks, sampler, threads)
        ds.attrs["sampler"] = sampler
        if plan.copula_rows.size and scenario.correlations is not None:  # rows only come from correlations
            ds.attrs["correlated_inputs"] = list(scenario.correlations.inputs)
        return _keeping(ds, kept_names)
    if precision is None:
        sampling = _sampling(plan, sampler, seed, start, draws)
        # a run in slices keeps no inputs: they are drawn again from their streams when read
        arrays: dict[str, Any] = _run(
            plan,
            seed,
            start,
            draws,
            threads,
            sampling=sampling,
            progress=progress,
            outputs=kept,
            keep_inputs=kept is None,
        )
        if kept is not None:
            arrays["_inputs"] = RegeneratedInputs(scenario, plan, seed, start, draws, sampler)
        _check_finite(plan, arrays, start)
        ds = _to_dataset(scenario, plan, arrays, seed, start)
    else:
        ds = _run_to_precision(
            scenario,
            plan,
            seed,
            start,
            draws,
            threads,
            precision,
            precision_output,
            max_draws,
            progress,
            memory_limit,
        )
    ds.attrs["sampler"] = sampler
    if plan.copula_rows.size and scenario.correlations is not None:  # rows only come from correlations
        ds.attrs["correlated_inputs"] = list(scenario.correlations.inputs)
    return _keeping(ds, kept_names)


def _keeping(ds: xr.Dataset, kept: tuple[str, ...] | None) -> xr.Dataset:
    """Drop the outputs not in ``kept`` (None: keep every output); inputs are always kept."""
    if kept is None:
        return ds
    return ds.drop_vars([name for name in OUTPUTS if name not in kept and name in ds])


def _check_outputs(outputs: Any, keep: str, caller: str = "simulate") -> tuple[str, ...]:
    """Check the names of the outputs asked for besides the headline ones, and return them."""
    if outputs is None:
        return ()
    names = check_names(outputs, tuple(OUTPUTS), "outputs", caller)
    if keep == "summary":
        raise ValueError(
            _message("outputs", caller, "left out with keep='summary', which keeps no draws", outputs)
        )
    return names


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
        # typeshed's numbers.Real supports no comparisons; cast (not float(), which overflows on a huge int)
        or not (cast(float, value) > 0 and np.isfinite(cast(float, value)))
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
    memory_limit: float | None = None,
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
        # the draws kept so far and the next chunk, then their concatenation: twice the result at the end
        check_result_size(2 * result_bytes(plan, done + chunk), done + chunk, "simulate", memory_limit)
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


def with_outputs(ds: xr.Dataset, outputs: Sequence[str]) -> xr.Dataset:
    """Add outputs a run did not keep, recomputed for its own draws, bit for bit.

    A run keeps the headline outputs by default (:data:`HEADLINE_OUTPUTS`). Every
    draw is a pure function of the seed and its index, so the others (hours
    released by staff group, value by kind, funding adequacy, net benefit ...)
    can be computed again for exactly the same draws: the run is repeated from
    the scenario, seed, first draw and sampler stored in its attrs, and only
    the asked-for outputs are kept and added.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`simulate` (or reopened with :func:`nhsrisk.open_results`),
        possibly a selection of its draws.
    outputs : sequence of str
        Names from :data:`OUTPUTS`; those already in ``ds`` are left as they are.

    Returns
    -------
    xarray.Dataset
        ``ds`` with the outputs added (a new Dataset; ``ds`` is not changed).

    Raises
    ------
    TypeError
        If ``ds`` is not a Dataset or ``outputs`` is not a sequence of names.
    ValueError
        If an output name is unknown, or ``ds`` does not hold the run's scenario,
        seed, first draw, number of draws and sampler in its attrs, or draws outside
        that run.

    Examples
    --------
    >>> import nhsrisk
    >>> ds = nhsrisk.simulate(draws=1_000, seed=1)
    >>> "hours_released" in ds
    False
    >>> full = with_outputs(ds, ["hours_released"])
    >>> full["hours_released"].dims
    ('year', 'programme', 'staff_group', 'draw')
    >>> every = nhsrisk.simulate(draws=1_000, seed=1, keep="all")
    >>> bool((full["hours_released"] == every["hours_released"]).all())
    True
    """
    caller = "with_outputs"
    if not isinstance(ds, xr.Dataset):
        raise TypeError(_described("ds", caller, "an xarray.Dataset of nhsrisk results", type(ds).__name__))
    names = _check_outputs(outputs, "headline", caller)
    missing = [name for name in OUTPUTS if name in names and name not in ds.data_vars]
    if not missing:
        return ds
    needed = ("scenario", "seed", "start", "n_draws", "sampler")
    absent = [key for key in needed if key not in ds.attrs]
    if absent or "draw" not in ds.coords:
        raise ValueError(
            f"The 'ds' parameter of {caller} must be results of nhsrisk.simulate, whose attrs hold "
            f"{list(needed)} and whose draws are labelled. Got a Dataset without {absent or ['draw']}."
        )
    start, draws = int(ds.attrs["start"]), int(ds.attrs["n_draws"])
    labels = np.asarray(ds["draw"].values)
    if labels.size and (labels.min() < start or labels.max() >= start + draws):
        raise ValueError(
            f"The 'ds' parameter of {caller} must hold draws of the run it records "
            f"({start} to {start + draws - 1}). Got draws {int(labels.min())} to {int(labels.max())}."
        )
    sampler = str(ds.attrs["sampler"])
    if sampler == "random" and labels.size:
        # a random draw depends on its index alone: repeat only the span the selection covers
        start, draws = int(labels.min()), int(labels.max() - labels.min() + 1)
    again = simulate(
        scenario_from_attrs(ds.attrs),
        draws=draws,
        seed=int(ds.attrs["seed"]),
        start=start,
        sampler=sampler,
        outputs=missing,
        progress=False,
    )
    added = again[missing].sel(draw=labels)
    return ds.assign({name: added[name].variable for name in missing})
