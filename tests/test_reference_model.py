"""The numba kernel against the plain-NumPy reference model in ``benchmarks/reference.py``.

Three kinds of check:

1. Exact, inputs fixed: with every uncertain quantity replaced by its mean (a
   fixed number), the only randomness left is whether a raid happens each year;
   with the raid probability fixed at 0 or at 1 that is settled too, and kernel
   and reference must give the same NPV to 1e-12 (relative), and the same
   value of every other output.
2. Exact, same inputs: the kernel stores every sampled input of every draw,
   so feeding those inputs to the reference must reproduce each draw's
   outputs to rounding, on the full default scenario.
3. In distribution: independent random numbers (Philox streams in the kernel,
   ``numpy.random.default_rng`` in the reference) give the same law. Means and
   quantiles must agree within 4 combined Monte Carlo standard errors.

Why 4 standard errors: each statistic's difference is, under the hypothesis
that both implementations sample the same law, approximately normal with the
stated standard error (central limit theorem; Bahadur's representation for
quantiles). A two-sided 4-sigma band has a false-alarm probability of 6.3e-5 per
statistic, so even with the ~25 statistics checked here the chance of a
spurious failure is about 0.2% (and with fixed seeds the outcome is
deterministic: it cannot flake between runs of the same code). A real
modelling difference of a few standard errors (a few tenths of a percent of
the mean NPV at N = 50,000) is still caught. The small errors in the estimated
standard errors themselves (the KDE density, the sample variances) change the
threshold by a few percent, which 4 sigma absorbs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

import nhsrisk
from nhsrisk.distributions import Discrete, Fixed

# Tests run from the repository root with --import-mode=importlib, which does not
# put the root directory on sys.path; when pytest is started as a script (not
# ``python -m pytest``) ``benchmarks`` would not be importable without this.
try:
    from benchmarks.reference import evaluate_reference, simulate_reference
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest was started
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.reference import evaluate_reference, simulate_reference

N_DRAWS = 50_000
SEED_KERNEL = 20240306
SEED_REFERENCE = 20240307
SIGMAS = 4.0
QUANTILES = (0.05, 0.50, 0.95)


def _outputs() -> tuple[str, ...]:
    from nhsrisk.simulation import OUTPUTS

    return tuple(OUTPUTS)


# ---------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario() -> nhsrisk.Scenario:
    return nhsrisk.load_scenario("spring-budget-2024")


@pytest.fixture(scope="module")
def kernel_run(scenario):
    return nhsrisk.simulate(scenario, draws=N_DRAWS, seed=SEED_KERNEL)


@pytest.fixture(scope="module")
def reference_run(scenario):
    return simulate_reference(scenario, N_DRAWS, SEED_REFERENCE)


def _at_means(scenario: nhsrisk.Scenario, **overrides: float) -> nhsrisk.Scenario:
    """Every uncertain quantity replaced by its mean, as a fixed number (target and discount rate kept)."""
    values: dict[str, object] = {}
    for path, quantity in scenario.quantities().items():
        if path.startswith("target.") or path == "discount_rate":
            continue
        if quantity.distribution.is_fixed:
            continue
        mean = float(quantity.distribution.mean())
        # Scenario.with_values mistakes a Discrete table (it has a "values" key) for a
        # spend table and rejects a plain number there; a Fixed distribution is the same value.
        values[path] = Fixed(mean) if isinstance(quantity.distribution, Discrete) else mean
    values.update({f"risks.{name}": value for name, value in overrides.items()})
    fixed = scenario.with_values(values)
    uncertain = [p for p, q in fixed.quantities().items() if not q.distribution.is_fixed]
    assert uncertain == []
    return fixed


def _draw_first(ds, name: str) -> np.ndarray:
    """A variable of the results with ``draw`` as its first dimension, whatever the stored order."""
    return ds[name].transpose("draw", ...).values


def _kernel_outputs(ds) -> dict[str, np.ndarray]:
    return {name: _draw_first(ds, name) for name in _outputs()}


def _assert_outputs_equal(kernel: dict[str, np.ndarray], reference: dict[str, np.ndarray], rtol: float):
    for name in _outputs():
        a = np.asarray(kernel[name])
        b = np.asarray(reference[name])
        assert a.shape == b.shape, name
        if a.dtype == bool or b.dtype == bool:
            np.testing.assert_array_equal(a, b, err_msg=name)
            continue
        # relative to the scale of the variable: net_benefit and npv can cross 0
        atol = rtol * float(np.max(np.abs(b), initial=0.0))
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)


# ---------------------------------------------------------------------------------
# 1. Exact agreement with every input fixed
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"raid_probability": 0.0}, id="no-raid"),
        pytest.param({"raid_probability": 1.0}, id="raid-every-year"),
        pytest.param({"raid_probability": 1.0, "black_swan": 1.0}, id="raid-and-black-swan"),
        pytest.param({"raid_probability": 0.0, "black_swan": 1.0}, id="black-swan"),
    ],
)
def test_fixed_inputs_exact(scenario, overrides):
    fixed = _at_means(scenario, **overrides)
    draws = 257
    ds = nhsrisk.simulate(fixed, draws=draws, seed=3)
    ref = simulate_reference(fixed, draws, seed=4)
    expected_raid = overrides["raid_probability"] == 1.0
    raid = ds["raid"].values
    assert raid.all() == expected_raid and raid.any() == expected_raid
    # every draw is the same number
    assert np.ptp(ref["npv"]) == 0.0
    npv_kernel = ds["npv"].values
    npv_reference = ref["npv"]
    assert np.all(np.abs(npv_kernel - npv_reference) <= 1e-12 * np.abs(npv_reference)), (
        npv_kernel[0],
        npv_reference[0],
    )
    _assert_outputs_equal(_kernel_outputs(ds), ref, rtol=1e-12)


def test_fixed_inputs_by_hand(scenario):
    """The reference itself, at one point, against the equations written out with scalars."""
    fixed = _at_means(scenario, raid_probability=1.0)
    ref = simulate_reference(fixed, 3, seed=0)
    q = {path: quantity.distribution.mean() for path, quantity in fixed.quantities().items()}
    r = q["discount_rate"]
    overrun = q["risks.black_swan_overrun"] if q["risks.black_swan"] > 0.5 else q["risks.cost_overrun"]
    pv_value = pv_spend = 0.0
    n_year = len(fixed.years)
    hours = {}
    uptake = {}
    spend = {}
    for pid, programme in fixed.programmes.items():
        pre = f"programmes.{pid}."
        planned = np.asarray(programme.spend.values)
        spend[pid] = planned * (1.0 - q["risks.raid_fraction"] * q[pre + "raid_exposure"])
        adequacy = min(1.0, spend[pid].sum() / (overrun * planned.sum()))
        last = int(np.flatnonzero(planned > 0)[-1])
        shift = q[pre + "uptake_midpoint"] + q[pre + "realisation_lag"] + q["risks.delivery_delay"]
        level = [
            min(
                1.0,
                q[pre + "uptake_ceiling"]
                * q["risks.staff_capacity"]
                * adequacy ** q["risks.funding_elasticity"]
                / (1.0 + math.exp(-(t - shift) * q[pre + "uptake_steepness"])),
            )
            * (1.0 - q[pre + "benefit_decay"]) ** max(0, t - last)
            for t in range(n_year)
        ]
        uptake[pid] = np.array(level)
        for gid in programme.staff:
            g = f"staff_groups.{gid}."
            hours[pid, gid] = (
                q[g + "fte"]
                * q[g + "hours_per_fte"]
                * q[f"{pre}staff.{gid}.addressable_share"]
                * q[f"{pre}staff.{gid}.recovered_fraction"]
                * uptake[pid]
            )
    for gid in fixed.staff_groups:
        g = f"staff_groups.{gid}."
        total = sum((h for (_, group), h in hours.items() if group == gid), np.zeros(n_year))
        cap = q[g + "fte"] * q[g + "hours_per_fte"] * q[g + "max_release_share"]
        scale = np.where(total > cap, cap / np.where(total > 0, total, 1.0), 1.0)
        for key in [k for k in hours if k[1] == gid]:
            hours[key] = hours[key] * scale
    for pid, programme in fixed.programmes.items():
        pre = f"programmes.{pid}."
        staff_value = sum(
            (hours[pid, gid] * q[f"staff_groups.{gid}.cost_per_hour"] for gid in programme.staff),
            np.zeros(n_year),
        )
        patient_value = 0.0
        if programme.patients is not None:
            patient_value = (
                q[pre + "patients.contacts_per_year"]
                * (1.0 - q["risks.digital_exclusion"])
                * uptake[pid]
                * q[pre + "patients.value_per_contact"]
            )
        value = (staff_value * q["risks.redeployment_fraction"] + patient_value) * (
            1.0 - q[pre + "social_care_share"] * q["risks.social_care_leakage"]
        )
        factor = (1.0 + r) ** -np.arange(n_year)
        pv_value += float(np.sum(value * factor))
        pv_spend += float(np.sum(spend[pid] * factor))
    np.testing.assert_allclose(ref["npv"], pv_value - pv_spend, rtol=1e-12)
    np.testing.assert_allclose(ref["bcr"], pv_value / pv_spend, rtol=1e-12)


# ---------------------------------------------------------------------------------
# 2. Exact agreement, draw by draw, on the kernel's own sampled inputs
# ---------------------------------------------------------------------------------


def test_same_inputs_same_outputs(scenario, kernel_run):
    ds = kernel_run
    inputs = {name: _draw_first(ds, name) for name in ds.data_vars if ds[name].attrs.get("sampled_input")}
    # The kernel does not store the raid-event uniforms, only whether a raid happened:
    # a uniform of 0 is below any raid probability > 0, and 1 is never below it.
    inputs["risks.raid_event"] = np.where(_draw_first(ds, "raid"), 0.0, 1.0)
    ref = evaluate_reference(scenario, inputs, ds.sizes["draw"])
    _assert_outputs_equal(_kernel_outputs(ds), ref, rtol=1e-12)


# ---------------------------------------------------------------------------------
# 3. Agreement in distribution on the default scenario
# ---------------------------------------------------------------------------------


def _mean_z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(mean_a - mean_b) / sqrt(var_a/n_a + var_b/n_b), along the first axis."""
    se = np.sqrt(a.var(axis=0, ddof=1) / a.shape[0] + b.var(axis=0, ddof=1) / b.shape[0])
    return (a.mean(axis=0) - b.mean(axis=0)) / se


def _statistics(kernel, reference) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    value = _draw_first(kernel, "value")
    return {
        "npv": (_draw_first(kernel, "npv"), reference["npv"]),
        "bcr": (_draw_first(kernel, "bcr"), reference["bcr"]),
        "cumulative_value[final year]": (
            _draw_first(kernel, "cumulative_value")[:, -1],
            reference["cumulative_value"][:, -1],
        ),
        "value by programme (all years)": (value.sum(axis=1), reference["value"].sum(axis=1)),
        "value by year and programme": (value, reference["value"]),
    }


def test_means_agree(kernel_run, reference_run):
    failures = []
    for name, (a, b) in _statistics(kernel_run, reference_run).items():
        z = np.atleast_1d(_mean_z(a, b))
        if np.any(~np.isfinite(z)) or np.any(np.abs(z) > SIGMAS):
            failures.append(f"{name}: z = {np.round(z, 2).tolist()}")
    assert not failures, "means differ by more than 4 standard errors:\n" + "\n".join(failures)


def test_npv_quantiles_agree(kernel_run, reference_run):
    """5%, 50% and 95% quantiles of NPV within 4 standard errors of the difference.

    A sample quantile has asymptotic standard error sqrt(p (1 - p) / n) / f(x_p),
    f the density at the true quantile. Both samples have the same law under
    the hypothesis tested, so f is estimated once, by a Gaussian kernel density
    estimate (Scott's bandwidth) of the pooled sample at the pooled quantile,
    and the two independent errors combine as se**2 = p (1 - p) / f**2 * (1/n_a + 1/n_b).
    """
    a = _draw_first(kernel_run, "npv")
    b = reference_run["npv"]
    pooled = np.concatenate([a, b])
    kde = scipy.stats.gaussian_kde(pooled)
    failures = []
    for p in QUANTILES:
        x_p = np.quantile(pooled, p)
        density = float(kde(x_p)[0])
        se = math.sqrt(p * (1 - p) * (1 / a.size + 1 / b.size)) / density
        diff = float(np.quantile(a, p) - np.quantile(b, p))
        if not abs(diff) <= SIGMAS * se:
            failures.append(f"q{p}: kernel - reference = {diff:.4g}, se = {se:.4g}, z = {diff / se:.2f}")
    assert not failures, "NPV quantiles differ:\n" + "\n".join(failures)


def test_reference_is_seeded(scenario):
    one = simulate_reference(scenario, 1_000, seed=11)
    two = simulate_reference(scenario, 1_000, seed=11)
    np.testing.assert_array_equal(one["npv"], two["npv"])
    assert one["hours_released"].shape == (1_000, 5, 3, 6)


@pytest.mark.slow
def test_reference_inversion_sampler_agrees(scenario, kernel_run):
    """The reference with exact inversion (``dist.ppf(u)``) instead of NumPy's samplers.

    Slow: scipy's Beta quantile function is about 4 microseconds a value.
    """
    ref = simulate_reference(scenario, N_DRAWS, SEED_REFERENCE + 1, method="ppf")
    for name in ("npv", "bcr"):
        z = _mean_z(_draw_first(kernel_run, name), ref[name])
        assert abs(z) <= SIGMAS, (name, z)
