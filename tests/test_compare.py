"""``benchmarks.compare``: its contenders sample the right laws, and its harness reports every one.

The contenders that stand for what users would write instead of nhsrisk draw
the model's inputs with ``scipy.stats`` and with squigglepy. A speed
comparison is only honest if they sample the same distributions as nhsrisk,
so each input's sample mean is checked against the distribution's exact mean
within 4 Monte Carlo standard errors (``sd / sqrt(n)``; two-sided
false-alarm probability 6.3e-5 per input, under 1% over the scenario's
inputs; fixed seeds, so the outcome is deterministic).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import nhsrisk
from benchmarks import compare
from benchmarks.reference import PER_YEAR, input_names, sample_inputs

DRAWS = 20_000


def _check_means(method: str) -> int:
    scenario = nhsrisk.load_scenario()
    correlated = set(scenario.correlations.inputs) if scenario.correlations else set()
    inputs = sample_inputs(scenario, DRAWS, np.random.default_rng(7), method=method)  # type: ignore[arg-type]
    checked = 0
    for name, dist in input_names(scenario).items():
        if dist.is_fixed or name in correlated:
            continue
        values = np.asarray(inputs[name], dtype=float).ravel()
        assert np.isfinite(values).all(), name
        low, high = dist.support()
        assert values.min() >= low and values.max() <= high, (name, values.min(), values.max(), low, high)
        sd = math.sqrt(dist.var())
        if sd == 0.0:
            continue
        error = abs(values.mean() - dist.mean()) / (sd / math.sqrt(values.size))
        assert error <= 4.0, (name, method, values.mean(), dist.mean(), error)
        checked += 1
    return checked


def test_scipy_stats_inputs_have_the_scenarios_means() -> None:
    assert _check_means("scipy") >= 60


def test_squigglepy_inputs_have_the_scenarios_means() -> None:
    pytest.importorskip("squigglepy")
    assert _check_means("squigglepy") >= 60


def test_per_year_inputs_keep_their_shape_with_every_method() -> None:
    scenario = nhsrisk.load_scenario()
    methods = ["numpy", "scipy"]
    try:
        import squigglepy  # noqa: F401

        methods.append("squigglepy")
    except ImportError:
        pass
    for method in methods:
        inputs = sample_inputs(scenario, 50, np.random.default_rng(1), method=method)  # type: ignore[arg-type]
        for name in PER_YEAR:
            assert inputs[name].shape == (50, len(scenario.years)), (method, name)


def test_the_report_has_every_contender_with_a_floor_ratio_of_one() -> None:
    text = compare.run(2_000, rounds=2, warmup=0, quiet=True)
    runners, _ = compare.contenders(2_000)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    for runner in runners:
        assert runner.label in rows, runner.label
    floor_row = rows[runners[0].label]
    assert floor_row.rstrip(" |").endswith("1.00 [1.00 .. 1.00]")
    # every time and ratio is a positive finite number
    numbers = [float(x.replace(",", "")) for x in re.findall(r"(?<![\w.])\d[\d,]*\.\d+", text)]
    assert numbers and all(math.isfinite(x) and x > 0 for x in numbers)
    assert "not run" not in text.split("| ratio, per round")[1].split("squigglepy")[0]
