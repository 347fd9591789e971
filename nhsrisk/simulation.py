"""``simulate``: validate, flatten the scenario, run the numba kernel, build an xarray Dataset."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numba
import numpy as np
import xarray as xr

from nhsrisk._kernels import MODEL_ARRAYS, OUTPUT_ARRAYS, simulate_kernel
from nhsrisk._plan import Plan, build_plan
from nhsrisk._validate import check_count, resolve_seed
from nhsrisk._version import __version__
from nhsrisk.scenario import Scenario, load_scenario

__all__ = ["OUTPUTS", "simulate"]

#: Output variables: name -> (dims before "draw", long_name, units). Draws are the
#: last dimension: the kernel writes, and per-year statistics read, contiguous runs.
OUTPUTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "raid": (("year",), "Budget raid happened in the year", "1"),
    "spend": (("year", "programme"), "Spend after budget raids", "GBP/year"),
    "funding_adequacy": (
        ("programme",),
        "Funding adequacy: spend after raids over cost with overrun, capped at 1",
        "1",
    ),
    "uptake": (("year", "programme"), "Uptake: share of the addressable benefit realised", "1"),
    "hours_released": (
        ("year", "programme", "staff_group"),
        "Staff hours released (after the staff-group cap)",
        "hours/year",
    ),
    "hours_capped": (
        ("year", "staff_group"),
        "Staff-group cap on released hours was binding",
        "1",
    ),
    "value": (("year", "programme"), "Value of benefits", "GBP/year"),
    "cash_releasing_value": (("year", "programme"), "Cash-releasing part of the value", "GBP/year"),
    "net_benefit": (("year", "programme"), "Net benefit: value minus spend", "GBP/year"),
    "cumulative_value": (("year",), "Cumulative undiscounted value, all programmes", "GBP"),
    "npv": ((), "Net present value at the discount rate", "GBP"),
    "bcr": ((), "Benefit-cost ratio: present value of benefits over present value of spend", "1"),
}


_BOOLEAN_OUTPUTS = ("raid", "hours_capped")


def simulate(
    scenario: Scenario | str | Path = "spring-budget-2024",
    draws: int = 100_000,
    seed: int | None = None,
    *,
    start: int = 0,
    threads: int | None = None,
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
        Number of numba threads (default: all). Results do not depend on it.

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
    seed = resolve_seed(seed, "simulate")
    plan = build_plan(scenario)
    arrays = _run(plan, seed, start, draws, threads)
    _check_finite(plan, arrays, start)
    return _to_dataset(scenario, plan, arrays, seed, start)


def _check_finite(plan: Plan, arrays: dict[str, np.ndarray], start: int) -> None:
    """Refuse to return a non-finite result.

    NPV and the benefit-cost ratio aggregate every per-year output, so a NaN or
    infinity anywhere shows up in one of them; checking them costs 16 bytes a draw.
    """
    for name in ("npv", "bcr"):
        bad = np.flatnonzero(~np.isfinite(arrays[name]))
        if bad.size:
            i = int(bad[0])
            inputs = {
                stored.variable: float(arrays["_inputs"][row, i]) for row, stored in enumerate(plan.stored)
            }
            raise FloatingPointError(
                f"simulate produced a non-finite {name} ({arrays[name][i]!r}) in draw {start + i} "
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
        name: np.empty((*(sizes[d] for d in dims), draws), dtype=bool if name in _BOOLEAN_OUTPUTS else float)
        for name, (dims, _, _) in OUTPUTS.items()
    }
    return outputs, np.empty((len(plan.stored), draws))


def kernel_arguments(
    plan: Plan, seed: int, start: int, inputs: np.ndarray, outputs: dict[str, np.ndarray]
) -> tuple[Any, ...]:
    """Return the arguments of :func:`nhsrisk._kernels.simulate_kernel`, in order."""
    return (
        np.uint64(start),
        plan.codes,
        plan.params,
        plan.table_rows,
        plan.tables,
        plan.keys(seed),
        plan.store_rows,
        tuple(getattr(plan, name) for name in MODEL_ARRAYS),
        inputs,
        tuple(outputs[name] for name in OUTPUT_ARRAYS),
    )


def _run(
    plan: Plan, seed: int, start: int, draws: int, threads: int | None, kernel: Any = simulate_kernel
) -> dict[str, np.ndarray]:
    outputs, inputs = allocate_results(plan, draws)
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        kernel(*kernel_arguments(plan, seed, start, inputs, outputs))
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
    for name, (dims, long_name, units) in OUTPUTS.items():
        data_vars[name] = ((*dims, "draw"), arrays[name], {"long_name": long_name, "units": units})

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
        {"long_name": "Planned spend", "units": "GBP/year"},
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
        "price_base": scenario.price_base,
        "currency": "GBP",
        "discount_rate": scenario.discount_rate.distribution.mean(),
        "nhsrisk_version": __version__,
        "uniforms_per_draw": plan.uniforms_per_draw,
    }
    return xr.Dataset(data_vars=data_vars, coords=coords, attrs=attrs)
