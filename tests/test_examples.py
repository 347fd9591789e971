"""The example scripts run end to end and print what they promise."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nhsrisk
from nhsrisk._progress import COMPILE_NOTICE
from tests._hardening import adds_work

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr
    # no warnings either; the notice that the kernels are compiling only if this process compiled them
    assert result.stderr in ("", COMPILE_NOTICE + "\n"), result.stderr
    return result.stdout


def test_sensitivity_study_names_three_drivers_with_sobol_and_evppi():
    out = run_example("sensitivity_study.py")
    drivers = re.findall(r"^  (\S+)\s+total (\d\.\d+) \[(\d\.\d+), (\d\.\d+)\]", out, flags=re.M)
    assert len(drivers) == 3
    totals = [float(t) for _, t, _, _ in drivers]
    assert totals == sorted(totals, reverse=True)
    for _, total, low, high in drivers:
        assert float(low) <= float(total) <= float(high)
    evppi = dict(re.findall(r"^    (\S+)\s+EVPPI GBP\s+(\d+\.\d+)m", out, flags=re.M))
    assert all(name in evppi for name, *_ in drivers)
    assert re.search(r"EVPI: GBP \d+\.\d+m", out)


#: The independent check of the quick start's figures: the same scenarios at another seed and fewer draws.
CHECK_DRAWS, CHECK_SEED, SCRIPT_DRAWS = 20_000, 7, 200_000
NUMBER = r"([-+]?\d+(?:\.\d+)?)"


def _close(printed: float, values: np.ndarray, decimals: int, scale: float = 1.0) -> None:
    """``printed`` (rounded to ``decimals``) agrees with the mean of ``values / scale`` (an independent run).

    The script's estimate and this one are independent Monte Carlo means (different seeds), so their
    difference has standard error ``se * sqrt(1 + n / N)``; five of those plus the rounding is a bound
    that a correct script fails with probability below 1e-6, while a wrong figure (another output,
    another year, a sign or unit slip) misses it by far.
    """
    x = np.asarray(values, dtype=float) / scale
    se = x.std(ddof=1) / np.sqrt(x.size) * np.sqrt(1 + x.size / SCRIPT_DRAWS)
    bound = 5 * se + 0.5 * 10.0**-decimals + 1e-12
    assert abs(printed - x.mean()) <= bound, (printed, x.mean(), bound)


def test_quickstart_prints_the_figures_an_independent_run_gives():
    out = run_example("quickstart.py")
    assert out.startswith("Scenario(name='as-announced'")

    runs = {
        name: nhsrisk.simulate(name, draws=CHECK_DRAWS, seed=CHECK_SEED)
        for name in ("as-announced", "ring-fenced", "after-the-cut")
    }
    plan = runs["as-announced"]
    target = plan.attrs["target_year"]
    last = str(plan["year"].values[-1])

    # The horizons and the claim, as the scenario defines them.
    m = re.search(rf"Claim window (\S+ to \S+): claimed return GBP {NUMBER}bn cumulative by (\S+)", out)
    assert m, out
    assert m[1] == plan.attrs["claim_window"] and m[3] == target
    assert float(m[2]) == round(float(plan["claimed_return"]) / 1e9, 1)
    assert f"Appraisal period {plan.attrs['appraisal_period']}: NPV and BCR" in out

    # The headline of each run.
    rows = re.findall(
        rf"^(As announced|Ring-fenced budget|After the cut)\s+claim window: mean value GBP {NUMBER}bn "
        rf"\(s\.e\. {NUMBER}\), P\(reach target\) {NUMBER}\n\s+appraisal:\s+mean NPV GBP {NUMBER}bn "
        rf"\(s\.e\. {NUMBER}\), median BCR {NUMBER}, P\(BCR < 1\) {NUMBER}$",
        out,
        flags=re.M,
    )
    labels = {
        "As announced": "as-announced",
        "Ring-fenced budget": "ring-fenced",
        "After the cut": "after-the-cut",
    }
    assert [row[0] for row in rows] == list(labels), out
    means = {}
    for label, value, value_se, reach, npv, npv_se, median_bcr, below_one in rows:
        ds = runs[labels[label]]
        final = ds["cumulative_value"].sel(year=target).values
        npv_draws, bcr = ds["npv"].values, ds["bcr"].values
        _close(float(value), final, 3, 1e9)
        _close(float(reach), final >= float(ds["claimed_return"]), 4)
        _close(float(npv), npv_draws, 3, 1e9)
        _close(float(below_one), bcr < 1, 3)
        # the printed median splits this run's draws in half (within five binomial standard errors)
        assert abs(np.mean(bcr < float(median_bcr)) - 0.5) <= 5 * 0.5 / np.sqrt(CHECK_DRAWS) + 0.01
        # the printed standard errors are the script's: the independent ones scaled to its draws
        scale = np.sqrt(CHECK_DRAWS / SCRIPT_DRAWS) / 1e9 / np.sqrt(CHECK_DRAWS)
        for printed_se, x in ((value_se, final), (npv_se, npv_draws)):
            assert float(printed_se) == pytest.approx(x.std(ddof=1) * scale, rel=0.1, abs=0.0005)
        means[labels[label]] = float(value)
    # A ring fence keeps value, the cut loses it.
    assert means["after-the-cut"] < means["as-announced"] < means["ring-fenced"]

    # Ring-fencing, draw by draw.
    gain = (runs["ring-fenced"]["cumulative_value"] - plan["cumulative_value"]).sel(year=target).values
    npv_gain = (runs["ring-fenced"]["npv"] - plan["npv"]).values
    m = re.search(
        rf"Value of ring-fencing by (\S+): mean GBP {NUMBER}bn \(paired s\.e\. {NUMBER}\), "
        rf"positive in {NUMBER}% of draws, never negative: (True|False); "
        rf"its effect on NPV: mean GBP {NUMBER}bn",
        out,
    )
    assert m, out
    # value is lost to a ring fence only where a contact moved online adds more work than it saves
    # (issue 15's induced demand): more money, more of that loss
    assert m[1] == target and m[5] in ("True", "False")  # the script's own draws say which
    assert bool(np.all((gain >= -1e-6) | adds_work(plan).values))
    _close(float(m[2]), gain, 3, 1e9)
    assert float(m[2]) == pytest.approx(means["ring-fenced"] - means["as-announced"], abs=0.0015)
    _close(float(m[4]), 100 * (gain > 0), 1)
    _close(float(m[6]), npv_gain, 3, 1e9)

    # The cut.
    cut = -nhsrisk.load_scenario("after-the-cut").total_budget_change
    m = re.search(
        rf"Cost of the GBP {NUMBER}m cut: mean GBP {NUMBER}m of value by (\S+) \({NUMBER} per GBP cut\), "
        rf"GBP {NUMBER}m over the appraisal period",
        out,
    )
    assert m, out
    assert float(m[1]) == round(cut / 1e6) and m[3] == target
    lost = (plan["cumulative_value"] - runs["after-the-cut"]["cumulative_value"]).sel(year=target).values
    lost_ten = (plan["cumulative_value"] - runs["after-the-cut"]["cumulative_value"]).sel(year=last).values
    _close(float(m[2]), lost, 0, 1e6)
    _close(float(m[4]), lost / cut, 2)
    _close(float(m[5]), lost_ten, 0, 1e6)
    assert float(m[4]) == pytest.approx(float(m[2]) * 1e6 / cut, abs=0.01)

    # By programme: every programme, adding up to the headline mean value.
    block = out.split("over the claim window")[1].split("Hours cap")[0]
    programmes = dict(re.findall(rf"^  (\S+)\s+{NUMBER}$", block, flags=re.M))
    assert list(programmes) == list(plan["programme"].values)
    assert sum(float(v) for v in programmes.values()) == pytest.approx(means["as-announced"], abs=0.002)
    claim_years = list(plan["year"].values[: list(plan["year"].values).index(target) + 1])
    value = plan["value"].sel(year=claim_years).sum("year")
    for programme, printed in programmes.items():
        _close(float(printed), value.sel(programme=programme).values, 3, 1e9)

    m = re.search(rf"Hours cap binding in {NUMBER}% of draw-years-groups", out)
    assert m, out
    _close(float(m[1]), 100 * plan["hours_capped"].values.ravel(), 2)
