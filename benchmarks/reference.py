"""NumPy reference implementation of the nhsrisk structural model (version 1).

This is the model as a careful analyst would write it without numba: every
input is drawn for all draws at once from a :class:`numpy.random.Generator`,
and the model is evaluated on whole arrays of shape ``(draw, year, programme,
staff_group)``. There is no Python loop over draws; the only Python loops run
over the handful of inputs, programmes and staff groups while arrays are
assembled.

It follows the kernel's model (``evaluate_draw`` in the first ``nhsrisk._kernels``,
now ``evaluate_block``; ``docs/model.md``) equation for equation (and, where
it is cheap to do so, operation for operation), so that with the same inputs
the two agree to rounding (``tests/test_reference_model.py`` checks 1e-12), and
with independent random numbers they agree in distribution. It serves two
purposes:

- an independent check of the kernel (``tests/test_reference_model.py``);
- the "plain NumPy" baseline that ``python -m benchmarks.compare`` times the
  kernel against.

The random numbers are NOT the kernel's (the kernel uses counter-based Philox
streams keyed by input name; this uses one ``numpy.random.default_rng(seed)``),
so results agree in distribution, not draw by draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from nhsrisk.distributions import (
    PERT,
    Bernoulli,
    Beta,
    Discrete,
    Distribution,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
)
from nhsrisk.scenario import Scenario, load_scenario

__all__ = ["evaluate_reference", "input_names", "sample_inputs", "simulate_reference"]

RISK_FIELDS = (
    "raid_probability",
    "cost_overrun",
    "black_swan",
    "black_swan_overrun",
    "delivery_delay",
    "digital_exclusion",
    "staff_capacity",
    "social_care_leakage",
    "funding_elasticity",
    "redeployment_fraction",
)
GROUP_FIELDS = ("fte", "hours_per_fte", "cost_per_hour", "max_release_share")
PROGRAMME_FIELDS = (
    "raid_exposure",
    "uptake_ceiling",
    "uptake_midpoint",
    "uptake_steepness",
    "realisation_lag",
    "benefit_decay",
    "cash_releasing_fraction",
    "social_care_share",
)
PATIENT_FIELDS = ("contacts_per_year", "value_per_contact")
EFFECT_FIELDS = ("addressable_share", "recovered_fraction")

#: Name of the per-year uniforms that decide whether a raid happens (raid if u < raid_probability).
RAID_EVENT = "risks.raid_event"
#: Inputs drawn once per year rather than once per draw.
PER_YEAR = ("risks.raid_fraction", RAID_EVENT)

Method = Literal["numpy", "ppf"]


def input_names(scenario: Scenario) -> dict[str, Distribution]:
    """Every model input by key path (the names ``nhsrisk.simulate`` gives its input variables).

    ``risks.raid_event`` is the standard uniform compared with ``raid_probability``
    each year; it and ``risks.raid_fraction`` are drawn once per year.
    """
    names: dict[str, Distribution] = {}
    for name in RISK_FIELDS:
        names[f"risks.{name}"] = getattr(scenario.risks, name).distribution
    names[RAID_EVENT] = Uniform(0.0, 1.0)
    names["risks.raid_fraction"] = scenario.risks.raid_fraction.distribution
    for gid, group in scenario.staff_groups.items():
        for name in GROUP_FIELDS:
            names[f"staff_groups.{gid}.{name}"] = getattr(group, name).distribution
    for pid, programme in scenario.programmes.items():
        for name in PROGRAMME_FIELDS:
            names[f"programmes.{pid}.{name}"] = getattr(programme, name).distribution
        if programme.patients is not None:
            for name in PATIENT_FIELDS:
                names[f"programmes.{pid}.patients.{name}"] = getattr(programme.patients, name).distribution
        for gid, effect in programme.staff.items():
            for name in EFFECT_FIELDS:
                names[f"programmes.{pid}.staff.{gid}.{name}"] = getattr(effect, name).distribution
    return names


def _draw(dist: Distribution, rng: np.random.Generator, size: tuple[int, ...], method: Method) -> np.ndarray:
    """Draw ``size`` values of ``dist``: the natural NumPy sampler, or inversion of uniforms."""
    if dist.is_fixed:
        return np.full(size, float(dist.support()[0]))
    if method == "ppf":
        return np.asarray(dist.ppf(rng.random(size)), dtype=float)
    if isinstance(dist, Uniform):
        return rng.uniform(dist.low, dist.high, size)
    if isinstance(dist, Triangular):
        return rng.triangular(dist.low, dist.mode, dist.high, size)
    if isinstance(dist, PERT):
        width = dist.high - dist.low
        alpha = 1.0 + dist.lam * (dist.mode - dist.low) / width
        beta = 1.0 + dist.lam * (dist.high - dist.mode) / width
        return dist.low + width * rng.beta(alpha, beta, size)
    if isinstance(dist, Beta):
        return dist.low + (dist.high - dist.low) * rng.beta(dist.alpha, dist.beta, size)
    if isinstance(dist, Normal):
        return rng.normal(dist.mu, dist.sd, size)
    if isinstance(dist, LogNormal):
        return rng.lognormal(dist.mu, dist.sigma, size)
    if isinstance(dist, Bernoulli):
        return (rng.random(size) < dist.p).astype(float)
    if isinstance(dist, Discrete):
        return rng.choice(np.asarray(dist.values), size=size, p=np.asarray(dist.probabilities))
    # TruncatedNormal and anything added later: exact inversion.
    return np.asarray(dist.ppf(rng.random(size)), dtype=float)


def sample_inputs(
    scenario: Scenario, draws: int, rng: np.random.Generator, *, method: Method = "numpy"
) -> dict[str, np.ndarray]:
    """Draw every model input: shape ``(draws,)``, or ``(draws, year)`` for the per-year ones.

    Parameters
    ----------
    scenario : Scenario
    draws : int
    rng : numpy.random.Generator
    method : {"numpy", "ppf"}, default="numpy"
        ``"numpy"`` uses each distribution's natural NumPy sampler
        (``Generator.beta`` for Beta and PERT, ``lognormal``, ``choice``...);
        ``"ppf"`` draws uniforms and inverts them with the exact ``dist.ppf``
        (slow for Beta and PERT: scipy's ``betaincinv``).
    """
    n_year = len(scenario.years)
    out = {}
    for name, dist in input_names(scenario).items():
        size = (draws, n_year) if name in PER_YEAR else (draws,)
        out[name] = _draw(dist, rng, size, method)
    return out


def evaluate_reference(
    scenario: Scenario, inputs: Mapping[str, np.ndarray | float], draws: int
) -> dict[str, np.ndarray]:
    """Evaluate the structural model on whole arrays of inputs.

    Parameters
    ----------
    scenario : Scenario
        Supplies the structure (years, programmes, staff groups, planned spend,
        discount rate).
    inputs : mapping of str to array
        Inputs by key path (see :func:`input_names`), each of shape ``(draws,)``
        or ``(draws, year)`` for ``risks.raid_fraction`` and ``risks.raid_event``.
        A missing key falls back to the scenario's value if it is fixed.
    draws : int

    Returns
    -------
    dict of str to numpy.ndarray
        The outputs of :data:`nhsrisk.simulation.OUTPUTS`, with the same
        dimensions after ``draw``: ``raid`` (draw, year), ``spend``,
        ``uptake``, ``value``, ``cash_releasing_value``, ``net_benefit``
        (draw, year, programme), ``funding_adequacy`` (draw, programme),
        ``hours_released`` (draw, year, programme, staff_group),
        ``hours_capped`` (draw, year, staff_group), ``cumulative_value``
        (draw, year), ``npv`` and ``bcr`` (draw,).
    """
    n = draws
    years = scenario.years
    n_year = len(years)
    programmes = list(scenario.programmes.items())
    groups = list(scenario.staff_groups)
    n_prog, n_group = len(programmes), len(groups)
    distributions = input_names(scenario)

    def col(name: str, per_year: bool = False) -> np.ndarray:
        shape = (n, n_year) if per_year else (n,)
        value = inputs.get(name)
        if value is None:
            dist = distributions[name]
            if not dist.is_fixed:
                raise KeyError(f"input {name!r} is uncertain but missing from 'inputs'")
            value = float(dist.support()[0])
        return np.broadcast_to(np.asarray(value, dtype=float), shape)

    def per_programme(field: str) -> np.ndarray:
        return np.stack([col(f"programmes.{pid}.{field}") for pid, _ in programmes], axis=-1)

    def per_group(field: str) -> np.ndarray:
        return np.stack([col(f"staff_groups.{gid}.{field}") for gid in groups], axis=-1)

    def per_patient_channel(field: str) -> np.ndarray:
        cols = [
            col(f"programmes.{pid}.patients.{field}") if p.patients is not None else np.zeros(n)
            for pid, p in programmes
        ]
        return np.stack(cols, axis=-1)

    planned = np.array([p.spend.values for _, p in programmes], dtype=float)  # (programme, year)
    last_funded = np.array([np.flatnonzero(row > 0)[-1] for row in planned])
    rate = scenario.discount_rate.distribution.mean()
    discount = (1.0 + rate) ** -np.arange(n_year, dtype=float)
    t = np.arange(n_year, dtype=float)

    # --- budget raids: spend after raids F[d, t, p] ----------------------------------
    raid = col(RAID_EVENT, per_year=True) < col("risks.raid_probability")[:, None]  # (n, T)
    cut = raid * col("risks.raid_fraction", per_year=True)  # (n, T)
    exposure = per_programme("raid_exposure")  # (n, P)
    spend = planned.T[None, :, :] * (1.0 - cut[:, :, None] * exposure[:, None, :])  # (n, T, P)

    # --- funding adequacy and uptake ----------------------------------------------------
    overrun = np.where(
        col("risks.black_swan") > 0.5, col("risks.black_swan_overrun"), col("risks.cost_overrun")
    )
    actual = spend.sum(axis=1)  # (n, P)
    funded = actual > 0.0
    adequacy = np.minimum(1.0, actual / (overrun[:, None] * planned.sum(axis=1)))
    funding_factor = np.where(funded, adequacy ** col("risks.funding_elasticity")[:, None], 0.0)
    adequacy = np.where(funded, adequacy, 0.0)  # no money, no technology, whatever the elasticity

    ceiling = per_programme("uptake_ceiling") * col("risks.staff_capacity")[:, None] * funding_factor
    shift = (
        per_programme("uptake_midpoint")
        + per_programme("realisation_lag")
        + col("risks.delivery_delay")[:, None]
    )
    steepness = per_programme("uptake_steepness")
    # ceiling / (1 + exp(-(t - shift) * steepness)), in place: these are (draw, year, programme)
    uptake = t[None, :, None] - shift[:, None, :]
    uptake *= -steepness[:, None, :]
    with np.errstate(over="ignore"):  # exp overflow -> level 0, as in the kernel
        np.exp(uptake, out=uptake)
    uptake += 1.0
    np.divide(ceiling[:, None, :], uptake, out=uptake)
    np.minimum(uptake, 1.0, out=uptake)
    years_after = np.arange(n_year)[:, None] - last_funded[None, :]  # (T, P)
    keep = 1.0 - per_programme("benefit_decay")  # (n, P)
    after = years_after > 0
    if after.any():
        uptake *= np.where(after[None], keep[:, None, :] ** np.maximum(years_after, 0)[None], 1.0)

    # --- staff hours released, capped per staff group ------------------------------------
    staff_hours = per_group("fte") * per_group("hours_per_fte")  # (n, G)
    addressable = np.zeros((n, n_prog, n_group))
    recovered = np.zeros((n, n_prog, n_group))
    position = {gid: g for g, gid in enumerate(groups)}
    for p, (pid, programme) in enumerate(programmes):
        for gid in programme.staff:
            g = position[gid]
            addressable[:, p, g] = col(f"programmes.{pid}.staff.{gid}.addressable_share")
            recovered[:, p, g] = col(f"programmes.{pid}.staff.{gid}.recovered_fraction")
    full = staff_hours[:, None, :] * addressable * recovered  # (n, P, G): hours at full uptake
    hours = full[:, None, :, :] * uptake[:, :, :, None]  # (n, T, P, G)
    total = hours[:, :, 0, :].copy()  # (n, T, G); summed programme by programme, as the kernel does
    for p in range(1, n_prog):
        total += hours[:, :, p, :]
    available = (staff_hours * per_group("max_release_share"))[:, None, :]  # (n, 1, G)
    capped = total > available
    scale = np.divide(available, total, out=np.ones_like(total), where=capped)
    if capped.any():
        hours *= scale[:, :, None, :]

    # --- value, spend, NPV ----------------------------------------------------------------
    staff_value = np.einsum("ntpg,ng->ntp", hours, per_group("cost_per_hour"))
    included = 1.0 - col("risks.digital_exclusion")
    patient_value = (
        (per_patient_channel("contacts_per_year") * included[:, None])[:, None, :]
        * uptake
        * per_patient_channel("value_per_contact")[:, None, :]
    )
    kept = 1.0 - per_programme("social_care_share") * col("risks.social_care_leakage")[:, None]
    redeployed = col("risks.redeployment_fraction")[:, None, None]
    value = (staff_value * redeployed + patient_value) * kept[:, None, :]
    cash = value * per_programme("cash_releasing_fraction")[:, None, :]
    net = value - spend
    cumulative = np.cumsum(value.sum(axis=2), axis=1)
    pv_value = np.einsum("ntp,t->n", value, discount)
    pv_spend = np.einsum("ntp,t->n", spend, discount)
    npv = pv_value - pv_spend
    bcr = np.divide(pv_value, pv_spend, out=np.zeros(n), where=pv_spend > 0.0)
    return {
        "raid": raid,
        "spend": spend,
        "funding_adequacy": adequacy,
        "uptake": uptake,
        "hours_released": hours,
        "hours_capped": capped,
        "value": value,
        "cash_releasing_value": cash,
        "net_benefit": net,
        "cumulative_value": cumulative,
        "npv": npv,
        "bcr": bcr,
    }


def simulate_reference(
    scenario: Scenario | str = "spring-budget-2024",
    draws: int = 100_000,
    seed: int | None = None,
    *,
    method: Method = "numpy",
    keep_inputs: bool = False,
) -> dict[str, np.ndarray]:
    """Sample the inputs with ``numpy.random.default_rng(seed)`` and evaluate the model.

    Returns the outputs of :func:`evaluate_reference` (``npv``, ``bcr``,
    ``cumulative_value``, ``value``, ``hours_released``, ``uptake``,
    ``spend``, ...); with ``keep_inputs`` also every sampled input by key path.
    """
    scenario = load_scenario(scenario)
    rng = np.random.default_rng(seed)
    inputs = sample_inputs(scenario, draws, rng, method=method)
    out = evaluate_reference(scenario, inputs, draws)
    if keep_inputs:
        out.update(inputs)
    return out
