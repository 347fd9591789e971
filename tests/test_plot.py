"""The plotting helpers draw what the statistics layer computes, with units, labels and legends.

Each figure is rendered to PNG and then inspected: the artists' coordinates are compared with the
numbers of nhsrisk.stats and nhsrisk.experiments. Those are the same arithmetic on the same draws,
so the comparisons are exact up to float rounding of the axis scaling (GBP / 1e9), not statistical.
"""

from __future__ import annotations

import inspect
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import xarray as xr

import nhsrisk
from nhsrisk import plot, stats
from nhsrisk._format import percent, significant
from nhsrisk.experiments import waterfall as waterfall_experiment

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
ICS = Path(__file__).resolve().parents[1] / "examples" / "my-ics.toml"
TORNADO_INPUTS = [
    "risks.digital_exclusion",
    "programmes.it_modernisation.cost_overrun",
    "programmes.staff_technology.delivery_delay",
    "risks.social_care_leakage",
]
# rounding of value / 1e9 and of the sums inside matplotlib's paths: a few ulps
CLOSE = {"rtol": 1e-12, "atol": 1e-12}


# the Agg backend, and every figure closed after each test (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("figures_closed")


@pytest.fixture(scope="module")
def ds():
    return nhsrisk.simulate(draws=2000, seed=1)


@pytest.fixture(scope="module")
def tornado_result():
    return nhsrisk.tornado(inputs=TORNADO_INPUTS)


@pytest.fixture(scope="module")
def spider_result():
    return nhsrisk.spider(
        inputs=["risks.digital_exclusion", "risks.staff_capacity", "risks.released_time_used"]
    )


@pytest.fixture(scope="module")
def sobol_result():
    return nhsrisk.sobol_analysis(base_samples=64, seed=1, bootstrap=100)


@pytest.fixture(scope="module")
def sweep_result():
    return nhsrisk.sweep(
        "as-announced",
        {"risks.raid_probability": [0.0, 0.25, 0.5], "risks.digital_exclusion": [0.0, 0.2]},
        draws=200,
        seed=1,
    )


@pytest.fixture(scope="module")
def waterfall_result():
    return waterfall_experiment(draws=2000, seed=1)


def gbp_scale(*values) -> float:
    """The module's documented rule for money on an axis: GBP bn from GBP 1bn up, else GBP m."""
    largest = max(float(np.max(np.abs(np.asarray(v, dtype=float)))) for v in values)
    return 1e9 if largest >= 1e9 else 1e6


@pytest.fixture(scope="module")
def options():
    base = nhsrisk.load_scenario()
    return nhsrisk.compare_options(
        {"as planned": base, "ring-fenced": base.with_values({"risks.raid_probability": 0.0})},
        draws=500,
        seed=1,
    )


def render(ax):
    ax.figure.savefig(io.BytesIO(), format="png", dpi=40)
    return ax


def figures():
    import matplotlib.pyplot as plt

    return plt.get_fignums()


def legend_texts(ax):
    return [text.get_text().replace("\n", "") for text in ax.get_legend().get_texts()]


def tick_texts(labels):
    return [label.get_text() for label in labels]


def labelled(ax, label):
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return line


def ticks_top_down(ax, joiner=""):
    """Y tick labels from the top of the plot down, re-joined where they were wrapped.

    Key paths wrap after their dots (``joiner=""``), readable labels at spaces (``joiner=" "``).
    """
    pairs = zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)
    return [label.get_text().replace("\n", joiner) for _, label in sorted(pairs, key=lambda pair: -pair[0])]


def unwrapped(text):
    return text.replace("\n", " ")


def footer_of(ax):
    """The text of the figure's footer (one per figure), or None."""
    footers = [text for text in ax.get_figure(root=True).texts if text.get_gid() == "nhsrisk-footer"]
    assert len(footers) <= 1
    return footers[0].get_text() if footers else None


# --------------------------------------------------------------------------------------------------
# Import cost
# --------------------------------------------------------------------------------------------------


def test_importing_nhsrisk_and_its_plot_module_does_not_import_pyplot():
    code = "import sys, nhsrisk, nhsrisk.plot; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------------
# fan
# --------------------------------------------------------------------------------------------------


def test_fan_draws_the_describe_percentile_bands_median_and_claimed_return(ds):
    from matplotlib.collections import PolyCollection

    ax = render(plot.fan(ds))
    q = stats.describe(ds["cumulative_value"], quantiles=QUANTILES)["quantile_estimate"]
    q = q.transpose("year", "quantile").values / 1e9
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    for band, (low, high) in zip(bands, [(0, 4), (1, 3)], strict=True):
        vertices = band.get_paths()[0].vertices
        for year in range(5):
            at_year = vertices[np.isclose(vertices[:, 0], year), 1]
            assert np.isclose(at_year, q[year, low], **CLOSE).any()
            assert np.isclose(at_year, q[year, high], **CLOSE).any()
    np.testing.assert_allclose(labelled(ax, "median").get_ydata(), q[:, 2], **CLOSE)
    target = labelled(ax, "claimed return").get_ydata()
    np.testing.assert_allclose(target, [float(ds["claimed_return"]) / 1e9] * 2, **CLOSE)
    assert float(ds["claimed_return"]) / 1e9 == 7.0  # the Spring Budget 2024 claim, GBP 7bn by 2029/30
    assert legend_texts(ax) == ["5-95%", "25-75%", "median", "claimed return"]
    assert unwrapped(ax.get_ylabel()) == "Cumulative undiscounted value, all programmes (GBP bn)"
    assert ax.get_xlabel() == "Financial year"
    assert tick_texts(ax.get_xticklabels()) == list(ds["year"].values)  # the appraisal period, ten years
    # what is shown, then the scenario: the head of its title
    assert ax.get_title().split("\n")[-1] == "Spring Budget 2024 as announced"
    assert any("GBP 7.00bn by 2029/30" in text.get_text() for text in ax.texts)
    # the claim is to be met by the target year: its line spans the claim window only
    np.testing.assert_array_equal(labelled(ax, "claimed return").get_xdata(), [0, 4])
    assert any(text.get_text() == "end of the claim window" for text in ax.texts)


def test_fan_sums_an_amount_over_programmes_and_shows_small_money_in_millions(ds):
    ax = render(plot.fan(ds, "value"))
    q = stats.describe(ds["value"].sum("programme"), quantiles=QUANTILES)["quantile_estimate"]
    assert float(q.max()) < 1e9  # below GBP 1bn: the axis switches to GBP m
    np.testing.assert_allclose(labelled(ax, "median").get_ydata(), q.sel(quantile=0.5).values / 1e6, **CLOSE)
    assert (
        unwrapped(ax.get_ylabel()) == "Value of additional benefits, all kinds, all programmes (GBP m/year)"
    )
    assert legend_texts(ax) == ["5-95%", "25-75%", "median"]  # no claimed return for a yearly value


def test_fan_shows_hours_in_million_hours(ds):
    ds = ds.nhsrisk.with_outputs(["hours_released"])  # not kept by default: computed again for these draws
    ax = render(plot.fan(ds, "hours_released"))
    median = ds["hours_released"].sum(["programme", "staff_group"]).quantile(0.5, "draw").values
    np.testing.assert_allclose(labelled(ax, "median").get_ydata(), median / 1e6, **CLOSE)
    assert unwrapped(ax.get_ylabel()).endswith("(million hours/year)")
    assert "all staff groups" in unwrapped(ax.get_ylabel())


def test_fan_target_can_be_a_number_or_switched_off(ds):
    ax = plot.fan(ds, target=2.5e9)
    np.testing.assert_allclose(labelled(ax, "target").get_ydata(), [2.5, 2.5])
    ax = plot.fan(ds, target=False)
    assert legend_texts(ax) == ["5-95%", "25-75%", "median"]


def test_fan_honours_the_axes_given_and_passes_kwargs_to_the_median_line(ds):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert plot.fan(ds, ax=ax, color="black", linewidth=3.0) is ax
    assert figures() == [fig.number]
    median = labelled(ax, "median")
    assert median.get_color() == "black" and median.get_linewidth() == 3.0


def test_fan_new_figure_has_the_default_size(ds):
    ax = plot.fan(ds)
    assert tuple(ax.figure.get_size_inches()) == (7.0, 4.5)


@pytest.mark.parametrize(
    ("variable", "match"),
    [
        ("npv", r"The 'variable' parameter of fan must be a per-year output .* Got 'npv' with dims"),
        ("uptake", r"The 'variable' parameter of fan must be an output that has only 'year' and 'draw'"),
        ("cumulative_valu", r"The 'variable' parameter of fan .* \(did you mean 'cumulative_value'\?\)"),
    ],
)
def test_fan_refuses_an_output_it_cannot_draw_before_making_a_figure(ds, variable, match):
    with pytest.raises(ValueError, match=match):
        plot.fan(ds, variable)
    assert figures() == []


def test_fan_refuses_wrong_inputs_with_the_project_message(ds, tornado_result):
    with pytest.raises(
        ValueError, match=r"The 'ds' parameter of fan must be a results Dataset .* Got a Dataset"
    ):
        plot.fan(tornado_result)
    with pytest.raises(TypeError, match=r"The 'ds' parameter of fan must be .* Got 'list' instead"):
        plot.fan([1.0, 2.0])
    with pytest.raises(TypeError, match=r"The 'ax' parameter of fan must be a matplotlib Axes or None"):
        plot.fan(ds, ax="axes")
    with pytest.raises(ValueError, match=r"The 'target' parameter of fan must be False, or a number in GBP"):
        plot.fan(ds.drop_vars("claimed_return"))
    with pytest.raises(ValueError, match=r"The 'target' parameter of fan must be True, False or a finite"):
        plot.fan(ds, target=float("nan"))
    with pytest.raises(TypeError, match=r"The 'target' parameter of fan"):
        plot.fan(ds, target="7bn")
    assert figures() == []
    render(plot.fan(ds.drop_vars("claimed_return"), target=False))


def test_fan_refuses_nan_rather_than_drawing_around_it(ds):
    broken = ds[["cumulative_value", "claimed_return", "value"]].copy(deep=True)
    broken["cumulative_value"][2, 7] = np.nan
    broken["value"][1, 0, 3] = np.nan
    with pytest.raises(
        ValueError, match=r"The 'ds' parameter of fan must be a Dataset whose 'cumulative_value'"
    ):
        plot.fan(broken)
    with pytest.raises(ValueError, match=r"whose 'value' is finite\. Got 1 NaN or infinite values instead"):
        plot.fan(broken, "value")  # the sum over programmes must not skip the NaN


# --------------------------------------------------------------------------------------------------
# distribution
# --------------------------------------------------------------------------------------------------


def test_distribution_histogram_counts_every_draw_and_marks_the_describe_statistics(ds):
    ax = render(plot.distribution(ds, bins=40))
    assert len(ax.patches) == 40
    assert sum(patch.get_height() for patch in ax.patches) == ds.sizes["draw"]
    described = stats.describe(ds["npv"], quantiles=(0.05, 0.5, 0.95))
    q = described["quantile_estimate"].values / 1e9
    expected = {
        "mean": float(described["mean"]) / 1e9,
        "median": q[1],
        "5th percentile": q[0],
        "95th percentile": q[2],
        "break-even (NPV = 0)": 0.0,
    }
    for line in ax.get_lines():
        name = line.get_label().split(" (")[0] if "NPV" not in line.get_label() else line.get_label()
        np.testing.assert_allclose(line.get_xdata(), [expected.pop(name)] * 2, **CLOSE)
    assert expected == {}
    assert legend_texts(ax)[:2] == [
        f"mean ({significant(float(described['mean']) / 1e9, 3)})",
        f"median ({significant(q[1], 3)})",
    ]
    assert unwrapped(ax.get_xlabel()) == "Net present value over the appraisal period (GBP bn)"
    assert ax.get_ylabel() == "Number of draws (of 2,000)"


def test_distribution_reads_a_per_year_output_in_the_year_asked(ds):
    ax = render(plot.distribution(ds, "cumulative_value", year="2027/28", percentiles=[0.1]))
    values = ds["cumulative_value"].sel(year="2027/28")
    median = float(stats.describe(values, quantiles=(0.1, 0.5))["quantile_estimate"][1])
    np.testing.assert_allclose(
        labelled(ax, f"median ({significant(median / 1e9, 3)})").get_xdata()[0], median / 1e9, **CLOSE
    )
    assert "10th percentile" in " ".join(legend_texts(ax))
    assert "by 2027/28 (GBP bn)" in unwrapped(ax.get_xlabel())
    assert legend_texts(ax)[-1] == "claimed return (7.00)"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"variable": "cumulative_value", "year": "2041/42"},
            ValueError,
            r"The 'year' parameter of distribution",
        ),
        (
            {"variable": "npv", "year": "2025/26"},
            ValueError,
            r"The 'year' parameter of distribution must be None",
        ),
        ({"percentiles": (0.0, 0.5)}, ValueError, r"The 'percentiles' parameter of distribution must be in"),
        ({"percentiles": "0.5"}, TypeError, r"The 'percentiles' parameter of distribution"),
        ({"percentiles": ()}, ValueError, r"The 'percentiles' parameter of distribution"),
        ({"bins": 0}, ValueError, r"The 'bins' parameter of distribution must be an int >= 1"),
    ],
)
def test_distribution_refuses_bad_arguments(ds, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot.distribution(ds, **kwargs)
    assert figures() == []


# --------------------------------------------------------------------------------------------------
# exceedance
# --------------------------------------------------------------------------------------------------


def test_exceedance_curve_equals_exceedance_probability_at_every_threshold(ds):
    npv = ds["npv"].values
    ax = render(plot.exceedance(ds, "npv", target=-2.5e9))
    curve = labelled(ax, "P(at least x)")
    x, y = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
    assert curve.get_drawstyle() == "steps-pre"  # y[i] holds on (x[i-1], x[i]]
    assert np.all(np.diff(y) <= 0) and y[0] == 100.0 and y[-1] == 0.0
    thresholds = np.concatenate([np.sort(npv)[[0, 1, 500, 1999]], np.quantile(npv, [0.1, 0.5, 0.9])])
    for threshold in thresholds:
        i = np.searchsorted(x, threshold / 1e9, side="left")
        p, _ = stats.exceedance_probability(npv, threshold)
        assert y[i] == pytest.approx(100.0 * float(p), abs=1e-12)
    p, se = stats.exceedance_probability(npv, -2.5e9)
    assert 0.0 < p < 1.0
    np.testing.assert_allclose(labelled(ax, "target").get_xdata(), [-2.5, -2.5])
    (note,) = ax.texts
    assert unwrapped(note.get_text()) == (
        f"P(at least -GBP 2.50bn) = {percent(float(p))} ± {percent(float(se), 2)} (MCSE)"
    )
    assert unwrapped(ax.get_ylabel()) == "Probability of reaching at least x (%)"
    assert unwrapped(ax.get_xlabel()) == "Net present value over the appraisal period (GBP bn)"


def test_exceedance_reports_the_one_sided_bound_when_no_draw_reaches_the_claimed_return(ds):
    reached = ds["cumulative_value"].sel(year="2029/30") >= ds["claimed_return"]
    assert not reached.any()
    ax = render(plot.exceedance(ds))
    np.testing.assert_allclose(labelled(ax, "claimed return").get_xdata(), [7.0, 7.0])
    bound = 1 - 0.05 ** (1 / 2000)  # rule of three: about 3 / n
    (note,) = ax.texts
    assert (
        unwrapped(note.get_text())
        == f"P(at least GBP 7.00bn) = 0% (one-sided 95% upper bound {percent(bound)})"
    )
    assert "by 2029/30 (GBP bn)" in unwrapped(ax.get_xlabel())


# --------------------------------------------------------------------------------------------------
# payback
# --------------------------------------------------------------------------------------------------


def error_bar_segments(ax):
    (container,) = ax.containers
    (bars,) = container.lines[2]
    return np.array(bars.get_segments())  # (year, end, xy)


def synthetic_run():
    """Cumulative value against spend where a share of draws pays back each year."""
    rng = np.random.default_rng(7)
    years = ["2025/26", "2026/27", "2027/28", "2028/29"]
    value = np.cumsum(rng.gamma(2.0, 0.5e9, size=(4, 3000)), axis=0)
    spend = np.full((4, 1, 3000), 1.2e9)
    return xr.Dataset(
        {
            "cumulative_value": (("year", "draw"), value, {"units": "GBP"}),
            "spend": (("year", "programme", "draw"), spend, {"units": "GBP/year"}),
        },
        coords={"year": years},
        attrs={"scenario_name": "synthetic"},
    )


def test_payback_error_bars_are_the_mcse_interval_of_stats_payback():
    run = synthetic_run()
    result = stats.payback(run)
    p = result["payback_probability"].values
    se = result["payback_probability_mcse"].values
    assert np.all((p > 0.01) & (p < 0.99))
    ax = render(plot.payback(run))
    segments = error_bar_segments(ax)
    z = scipy.stats.norm.ppf(0.975)
    np.testing.assert_allclose(segments[:, 0, 1], 100 * np.clip(p - z * se, 0, 1), **CLOSE)
    np.testing.assert_allclose(segments[:, 1, 1], 100 * np.clip(p + z * se, 0, 1), **CLOSE)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), 100 * p, **CLOSE)
    assert tick_texts(ax.get_xticklabels()) == list(run["year"].values)
    assert ax.get_ylabel() == "Probability of payback by the year (%)"
    assert "synthetic" in ax.get_title()
    # the payback result itself draws the same
    again = plot.payback(result)
    np.testing.assert_array_equal(error_bar_segments(again), segments)


def test_payback_of_a_payback_result_names_the_run_as_the_run_does(ds):
    # stats.payback keeps the run's identity, so its figure has the run's title and footer
    direct, derived = plot.payback(ds), plot.payback(stats.payback(ds))
    assert derived.get_title() == direct.get_title()
    assert (
        footer_of(derived)
        == footer_of(direct)
        == (f"2,000 draws \u00b7 seed 1 \u00b7 2023/24 prices \u00b7 nhsrisk {nhsrisk.__version__}")
    )


def test_payback_bar_reaches_the_clopper_pearson_bound_where_no_draw_pays_back(ds):
    result = stats.payback(ds)
    never = result["payback_probability"].values == 0
    assert never[:3].all() and not never.all()  # no payback while the money is being spent; some later
    ax = render(plot.payback(ds))
    segments = error_bar_segments(ax)
    np.testing.assert_array_equal(segments[never, 0, 1], 0.0)
    upper = 100 * result["payback_probability_upper_95"].values
    np.testing.assert_allclose(segments[never, 1, 1], upper[never], **CLOSE)
    np.testing.assert_allclose(upper[never], 100 * (1 - 0.05 ** (1 / 2000)), **CLOSE)
    median = result["median_payback_year"].values
    assert any(text.get_text() == f"median payback year: {median}" for text in ax.texts)


def test_payback_refuses_other_datasets(tornado_result):
    with pytest.raises(ValueError, match=r"The 'p_or_ds' parameter of payback must be results of"):
        plot.payback(tornado_result)
    with pytest.raises(TypeError, match=r"The 'p_or_ds' parameter of payback"):
        plot.payback(3)


# --------------------------------------------------------------------------------------------------
# waterfall
# --------------------------------------------------------------------------------------------------


def test_waterfall_bars_bridge_gross_potential_through_planned_to_realised(waterfall_result):
    from matplotlib.colors import to_rgba

    wf = waterfall_result
    scale = gbp_scale(wf["level"].values)
    level = wf["level"].values / scale
    change = wf["change"].values / scale
    kinds = list(wf["kind"].values)
    ax = render(plot.waterfall(wf))
    # one horizontal bar per step, the first step at the top
    bars = sorted(ax.patches, key=lambda patch: patch.get_y())
    assert len(bars) == wf.sizes["step"] == 3 + 3 + 7
    assert ax.yaxis_inverted() and tick_texts(ax.get_yticklabels()) == list(wf["step"].values)
    grey = to_rgba("0.72")
    for i, (bar, kind) in enumerate(zip(bars, kinds, strict=True)):
        if kind == "total":
            # gross potential, planned and realised are bars from 0
            assert bar.get_x() == 0.0
            assert bar.get_width() == pytest.approx(level[i], rel=1e-12)
            assert bar.get_facecolor() == to_rgba(plot.OKABE_ITO["blue"])
            continue
        # a step floats from the running total before it to the one after it
        assert bar.get_x() == pytest.approx(level[i - 1], rel=1e-12)
        assert bar.get_width() == pytest.approx(change[i], rel=1e-12, abs=1e-12)
        assert bar.get_x() + bar.get_width() == pytest.approx(level[i], rel=1e-9)
        if kind == "haircut":
            # the haircuts are not risks: grey and hatched, apart from the risks' colours
            assert bar.get_facecolor() == grey and bar.get_hatch() == "///"
        else:
            colour = plot.OKABE_ITO["vermillion" if change[i] <= 0 else "bluish_green"]
            assert bar.get_facecolor() == to_rgba(colour) and not bar.get_hatch()
    labels = {text.get_text() for text in ax.texts}
    for i in np.flatnonzero(np.array(kinds) == "total"):
        assert significant(level[i], 3) in labels
    steps = [i for i, kind in enumerate(kinds) if kind != "total" and change[i] < 0]
    assert {"\u2212" + significant(abs(change[i]), 3) for i in steps} <= labels  # a true minus sign
    assert legend_texts(ax) == [
        "claimed return (7.00)",
        "gross potential, planned, realised",
        "haircut in the plan, not a risk",
        "risk: loss",
    ]
    xlabel = unwrapped(ax.get_xlabel())
    assert xlabel.startswith("Mean of cumulative undiscounted value") and xlabel.endswith("(GBP bn)")
    note = " ".join(unwrapped(text.get_text()) for text in ax.texts)
    assert "Shapley" in note and "common random numbers" in note and "Claim window 2025/26 to 2029/30" in note
    # the draws and the seed are the footer's
    assert footer_of(ax).startswith("2,000 draws per run \u00b7 seed 1 \u00b7 ")


def test_waterfall_colours_a_gain_apart_from_a_loss_and_a_haircut():
    steps = ["gross potential", "recovery", "planned", "overrun", "windfall", "realised"]
    wf = xr.Dataset(
        {
            "level": ("step", [12e9, 10e9, 10e9, 8e9, 9e9, 9e9], {"units": "GBP", "long_name": "Mean value"}),
            "change": ("step", [12e9, -2e9, 10e9, -2e9, 1e9, 9e9], {"units": "GBP"}),
        },
        coords={"step": steps, "kind": ("step", ["total", "haircut", "total", "risk", "risk", "total"])},
        attrs={"method": "sequential"},
    )
    ax = render(plot.waterfall(wf))
    assert legend_texts(ax) == [
        "gross potential, planned, realised",
        "haircut in the plan, not a risk",
        "risk: loss",
        "risk: gain",
    ]
    assert {"\u22122.00", "+1.00", "12.0", "10.0", "9.00"} <= {text.get_text() for text in ax.texts}
    assert unwrapped(ax.get_xlabel()) == "Mean value (GBP bn)"
    assert any("one at a time" in text.get_text() for text in ax.texts)


def test_waterfall_shows_money_in_millions_below_a_billion():
    wf = xr.Dataset(
        {
            "level": ("step", [5e8, 3e8, 3e8], {"units": "GBP", "long_name": "Mean NPV"}),
            "change": ("step", [5e8, -2e8, 3e8], {"units": "GBP"}),
        },
        coords={"step": ["planned", "raids", "realised"], "kind": ("step", ["total", "risk", "total"])},
    )
    ax = render(plot.waterfall(wf))
    assert unwrapped(ax.get_xlabel()) == "Mean NPV (GBP m)"
    assert sorted(ax.patches, key=lambda patch: patch.get_y())[0].get_width() == pytest.approx(500.0)


def test_waterfall_refuses_other_datasets(ds, waterfall_result):
    with pytest.raises(ValueError, match=r"The 'wf' parameter of waterfall must be a Dataset from nhsrisk"):
        plot.waterfall(ds)
    with pytest.raises(ValueError, match=r"The 'wf' parameter of waterfall must be a Dataset from nhsrisk"):
        plot.waterfall(waterfall_result.drop_vars("kind"))
    with pytest.raises(ValueError, match=r"The 'wf' parameter of waterfall must be steps that start and end"):
        plot.waterfall(waterfall_result.isel(step=slice(0, -1)))
    bad = waterfall_result.assign_coords(kind=("step", ["total", *["luck"] * 11, "total"]))
    with pytest.raises(ValueError, match=r"are totals, haircuts or risks"):
        plot.waterfall(bad)
    broken = waterfall_result.copy()
    broken["level"] = broken["level"].where(broken["kind"] != "risk")
    with pytest.raises(ValueError, match=r"finite"):
        plot.waterfall(broken)


# --------------------------------------------------------------------------------------------------
# tornado
# --------------------------------------------------------------------------------------------------


def test_tornado_bars_span_low_and_high_around_the_base_in_swing_order(tornado_result):
    t = tornado_result.isel(input=[3, 1, 0, 2])  # the plot must sort by swing itself
    ax = render(plot.tornado(t, labels="key"))
    by_swing = tornado_result["input"].values[np.argsort(-tornado_result["swing"].values, kind="stable")]
    assert ticks_top_down(ax) == list(by_swing)
    assert len(ax.patches) == 2 * len(TORNADO_INPUTS)
    scale = gbp_scale(t["output_low"], t["output_high"])
    base = float(t["output_base"]) / scale
    low_bars, high_bars = ax.containers
    positions = {
        round(tick): label.get_text().replace("\n", "")
        for tick, label in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)
    }
    for container, end in ((low_bars, "output_low"), (high_bars, "output_high")):
        for bar in container.patches:
            name = positions[round(bar.get_y() + bar.get_height() / 2)]
            assert bar.get_x() == pytest.approx(base, rel=1e-12)
            expected = float(t[end].sel(input=name)) / scale
            assert bar.get_x() + bar.get_width() == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [base, base], **CLOSE)
    assert legend_texts(ax)[1:] == ["input at its 10th percentile", "input at its 90th percentile"]
    unit = "GBP bn" if scale == 1e9 else "GBP m"
    assert unwrapped(ax.get_xlabel()) == f"Net present value over the appraisal period ({unit})"


def test_tornado_top_keeps_the_largest_swings(tornado_result):
    ax = render(plot.tornado(tornado_result, top=2, labels="key"))
    assert len(ax.patches) == 4
    assert ticks_top_down(ax) == list(tornado_result["input"].values[:2])
    with pytest.raises(ValueError, match=r"The 'top' parameter of tornado must be an int >= 1"):
        plot.tornado(tornado_result, top=0)
    with pytest.raises(
        ValueError, match=r"The 't' parameter of tornado must be a Dataset from nhsrisk.tornado"
    ):
        plot.tornado(tornado_result.drop_vars("swing"))


# --------------------------------------------------------------------------------------------------
# spider
# --------------------------------------------------------------------------------------------------


def test_spider_draws_the_inputs_with_the_widest_range(spider_result):
    s = spider_result
    output = s["output"].values
    ranges = output.max(axis=1) - output.min(axis=1)
    widest = list(s["input"].values[np.argsort(-ranges, kind="stable")[:2]])
    ax = render(plot.spider(s, top=2, labels="key"))
    lines = [line for line in ax.get_lines() if line.get_label() != "all inputs at their medians"]
    assert [line.get_label().replace("\n", "") for line in lines] == widest
    for line, name in zip(lines, widest, strict=True):
        np.testing.assert_allclose(line.get_xdata(), 100 * s["percentile"].values, **CLOSE)
        np.testing.assert_allclose(line.get_ydata(), s["output"].sel(input=name).values / 1e9, **CLOSE)
    base = labelled(ax, "all inputs at their medians")
    np.testing.assert_allclose(base.get_ydata(), [float(s["output_base"]) / 1e9] * 2, **CLOSE)
    assert len({line.get_color() for line in lines}) == 2
    assert ax.get_xlabel() == "Input percentile (%)"
    assert unwrapped(ax.get_ylabel()).endswith("(GBP bn)")


def test_spider_draws_the_inputs_asked_for(spider_result):
    ax = render(plot.spider(spider_result, inputs=["risks.staff_capacity"], labels="key"))
    assert legend_texts(ax) == ["risks.staff_capacity", "all inputs at their medians"]
    with pytest.raises(ValueError, match=r"The 'inputs' parameter of spider must be names from s\['input'\]"):
        plot.spider(spider_result, inputs=["risks.no_such_input"])
    with pytest.raises(TypeError, match=r"The 'inputs' parameter of spider"):
        plot.spider(spider_result, inputs=[1, 2])


# --------------------------------------------------------------------------------------------------
# sobol
# --------------------------------------------------------------------------------------------------


def test_sobol_bars_and_interval_lines_are_the_indices_and_their_bootstrap_bounds(sobol_result):
    from matplotlib.collections import LineCollection

    s = sobol_result
    order = np.argsort(-s["ST"].values, kind="stable")[:5]
    shown = s.isel(input=order)
    ax = render(plot.sobol(s, top=5, labels="key"))
    assert len(ax.patches) == 10
    assert ticks_top_down(ax) == list(shown["input"].values)
    s1_bars, st_bars = ax.containers
    for bars, index in ((s1_bars, "S1"), (st_bars, "ST")):
        widths = [bar.get_width() for bar in sorted(bars.patches, key=lambda bar: -bar.get_y())]
        np.testing.assert_allclose(widths, shown[index].values, **CLOSE)
    intervals = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(intervals) == 2
    for lines, index in zip(intervals, ("S1", "ST"), strict=True):
        segments = sorted(lines.get_segments(), key=lambda segment: -segment[0][1])
        np.testing.assert_allclose(
            [seg[0][0] for seg in segments], shown[f"{index}_conf_low"].values, **CLOSE
        )
        np.testing.assert_allclose(
            [seg[1][0] for seg in segments], shown[f"{index}_conf_high"].values, **CLOSE
        )
    assert set(legend_texts(ax)) == {"first order (S1)", "total (ST)", "95% bootstrap interval"}
    assert "dimensionless" in ax.get_xlabel()
    assert "net present value" in unwrapped(ax.get_title())


def test_sobol_without_bootstrap_draws_no_intervals_and_takes_sobol_indices_results():
    from matplotlib.collections import LineCollection

    from nhsrisk.distributions import Uniform

    def additive(x):  # variances 1/12 and 4/12: S1 = ST = (0.2, 0.8)
        return x[:, 0] + 2.0 * x[:, 1]

    laws = [Uniform(0.0, 1.0), Uniform(0.0, 1.0)]
    result = nhsrisk.sobol_indices(additive, laws, 256, seed=1, names=["a", "b"], bootstrap=0)
    ax = render(plot.sobol(result))
    assert ticks_top_down(ax) == ["b", "a"]
    assert not [c for c in ax.collections if isinstance(c, LineCollection)]
    assert ax.get_title() == "Sobol' indices"
    with pytest.raises(ValueError, match=r"The 's' parameter of sobol must be a Dataset from"):
        plot.sobol(result.drop_vars("ST"))


# --------------------------------------------------------------------------------------------------
# heatmap
# --------------------------------------------------------------------------------------------------


def test_heatmap_cells_are_the_sweep_means(sweep_result):
    sw = sweep_result
    means = sw["npv"].mean("draw").transpose(*sw.attrs["swept"]).values
    scale = gbp_scale(means)
    means = means / scale
    ax = render(plot.heatmap(sw))
    np.testing.assert_allclose(ax.images[0].get_array(), means, rtol=1e-12)
    assert [text.get_text() for text in ax.texts] == [significant(v, 3) for v in means.ravel()]
    assert tick_texts(ax.get_yticklabels()) == ["0", "0.25", "0.5"]
    assert tick_texts(ax.get_xticklabels()) == ["0", "0.2"]
    # the swept parameters by their labels from the scenario, with their units; or by key path
    assert ax.get_ylabel() == "Risks: chance of a budget raid (per year)"
    assert ax.get_xlabel() == "Risks: digital exclusion (dimensionless)"
    keyed = plot.heatmap(sw, labels="key")
    assert (keyed.get_ylabel(), keyed.get_xlabel()) == (
        "risks.raid_probability (per year)",
        "risks.digital_exclusion (dimensionless)",
    )
    colour_bar = ax.figure.axes[1]
    unit = "GBP bn" if scale == 1e9 else "GBP m"
    assert (
        unwrapped(colour_bar.get_ylabel()) == f"Mean of net present value over the appraisal period ({unit})"
    )


def test_heatmap_median_and_no_annotation(sweep_result):
    sw = sweep_result
    target_year = sw.attrs["target_year"]
    values = sw["cumulative_value"].sel(year=target_year).transpose(*sw.attrs["swept"], "draw")
    medians = np.median(values.values, axis=-1)
    ax = render(plot.heatmap(sw, "cumulative_value", statistic="median", annotate=False))
    scale = 1e9 if np.abs(medians).max() >= 1e9 else 1e6
    np.testing.assert_allclose(ax.images[0].get_array(), medians / scale, rtol=1e-12)
    assert len(ax.texts) == 0


def test_heatmap_probability_uses_each_cells_claimed_return():
    sw = nhsrisk.sweep(
        "as-announced",
        {"target.claimed_return": [1e9, 1.5e9, 2.5e9], "risks.raid_probability": [0.0, 0.5]},
        draws=200,
        seed=1,
    )
    reached = sw["cumulative_value"].sel(year=sw.attrs["target_year"]) >= sw["claimed_return"]
    expected = 100 * reached.mean("draw").transpose(*sw.attrs["swept"]).values
    assert 0 < expected.min() < expected.max() < 100
    ax = render(plot.heatmap(sw, "cumulative_value", statistic="probability"))
    np.testing.assert_allclose(ax.images[0].get_array(), expected, rtol=1e-12)
    # money on a swept axis follows the rule of every axis: GBP bn from GBP 1bn up
    assert tick_texts(ax.get_yticklabels()) == ["1", "1.5", "2.5"]
    assert ax.get_ylabel() == "Target: claimed return (GBP bn)"
    assert unwrapped(ax.figure.axes[1].get_ylabel()).endswith("(%)")
    # each cell's probability as a figure writes one: "< 0.01%" below its resolution
    assert [text.get_text() for text in ax.texts] == [
        percent(value / 100, resolution=1e-4) for value in expected.ravel()
    ]


def test_heatmap_refuses_what_it_cannot_draw(ds, sweep_result):
    one_parameter = nhsrisk.sweep("as-announced", {"risks.raid_probability": [0.0, 0.5]}, draws=100, seed=1)
    with pytest.raises(
        ValueError, match=r"The 'sw' parameter of heatmap must be a Dataset from nhsrisk.sweep"
    ):
        plot.heatmap(one_parameter)
    with pytest.raises(ValueError, match=r"The 'sw' parameter of heatmap"):
        plot.heatmap(ds)
    with pytest.raises(ValueError, match=r"The 'statistic' parameter of heatmap must be one of"):
        plot.heatmap(sweep_result, statistic="max")
    with pytest.raises(ValueError, match=r"The 'variable' parameter of heatmap"):
        plot.heatmap(sweep_result, "value")
    assert figures() == []


# --------------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------------


def test_compare_boxes_are_the_describe_quantiles_of_each_option(options):
    ax = render(plot.compare(options))
    assert tick_texts(ax.get_xticklabels()) == ["as planned", "ring-fenced"]
    values = options["cumulative_value"].sel(year="2029/30")
    described = stats.describe(values, quantiles=QUANTILES)
    q = described["quantile_estimate"].transpose("option", "quantile").values / 1e9
    assert len(ax.patches) == 2  # the boxes
    for i, box in enumerate(ax.patches):
        path = box.get_path().vertices
        np.testing.assert_allclose([path[:, 1].min(), path[:, 1].max()], q[i, [1, 3]], **CLOSE)
    lines = ax.get_lines()
    # whiskers are the vertical lines: from a quartile out to the 5th or 95th percentile
    whiskers = [
        tuple(line.get_ydata())
        for line in lines
        if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]
    ]
    expected = [(q[i, 1], q[i, 0]) for i in range(2)] + [(q[i, 3], q[i, 4]) for i in range(2)]
    np.testing.assert_allclose(sorted(whiskers), sorted(expected), **CLOSE)
    medians = [line for line in lines if line.get_color() == "#000000" and line.get_linewidth() == 2.0]
    np.testing.assert_allclose([line.get_ydata()[0] for line in medians], q[:, 2], **CLOSE)
    means = [line for line in lines if line.get_marker() == "D"]
    np.testing.assert_allclose(
        [line.get_ydata()[0] for line in means], described["mean"].values / 1e9, **CLOSE
    )
    np.testing.assert_allclose(labelled(ax, "claimed return").get_ydata(), [7.0, 7.0])
    assert set(legend_texts(ax)) == {"25-75%", "5-95%", "median", "mean", "claimed return"}
    assert unwrapped(ax.get_ylabel()) == "Cumulative undiscounted value, all programmes by 2029/30 (GBP bn)"


def test_compare_takes_a_mapping_of_runs(ds):
    other = nhsrisk.simulate(nhsrisk.load_scenario().with_values({"risks.raid_probability": 0.0}), 2000, 1)
    ax = render(plot.compare({"as planned": ds, "no raids": other}, "npv"))
    medians = [
        line for line in ax.get_lines() if line.get_color() == "#000000" and line.get_linewidth() == 2.0
    ]
    expected = [np.quantile(run["npv"].values, 0.5) / 1e9 for run in (ds, other)]
    np.testing.assert_allclose([line.get_ydata()[0] for line in medians], expected, **CLOSE)
    np.testing.assert_allclose(labelled(ax, "break-even (NPV = 0)").get_ydata(), [0.0, 0.0])
    assert tick_texts(ax.get_xticklabels()) == ["as planned", "no raids"]
    # the scenario both runs share; not the change of only one of them (the tick labels say that)
    assert ax.get_title().split("\n")[-1] == "Spring Budget 2024 as announced"


def test_compare_marks_each_runs_own_claimed_return_when_they_differ(ds):
    from matplotlib.collections import LineCollection

    halved = ds.assign(claimed_return=ds["claimed_return"] * 0.5)
    ax = render(plot.compare({"claim 7bn": ds, "claim 3.5bn": halved}))
    (targets,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    np.testing.assert_allclose([segment[0][1] for segment in targets.get_segments()], [7.0, 3.5])


def test_compare_refuses_fewer_than_two_runs_or_other_things(ds, options):
    kind = r"The 'runs' parameter of compare must be a mapping of at least two labels"
    with pytest.raises(ValueError, match=kind):
        plot.compare({"only": ds})
    with pytest.raises(TypeError, match=kind):
        plot.compare([ds, ds])
    with pytest.raises(ValueError, match=kind):
        plot.compare(ds)
    with pytest.raises(TypeError, match=kind + r".* Got a value of type int for 'b' instead"):
        plot.compare({"a": ds, "b": 3})
    with pytest.raises(ValueError, match=r"The 'year' parameter of compare"):
        plot.compare(options, year="1999/00")
    assert figures() == []


# --------------------------------------------------------------------------------------------------
# PlotAccessor and documentation
# --------------------------------------------------------------------------------------------------


def geometry(patch):
    from matplotlib.patches import Rectangle

    if isinstance(patch, Rectangle):
        return [patch.get_x(), patch.get_y(), patch.get_width(), patch.get_height()]
    return patch.get_path().vertices.tolist()


def drawn(ax):
    """What an Axes shows: lines, patches, collections, texts, labels and images."""
    return repr(
        (
            [line.get_xydata().tolist() for line in ax.get_lines()],
            [geometry(patch) for patch in ax.patches],
            [[path.vertices.tolist() for path in c.get_paths()] for c in ax.collections],
            [text.get_text() for text in ax.texts],
            [image.get_array().tolist() for image in ax.images],
            ax.get_xlabel(),
            ax.get_ylabel(),
            ax.get_title(),
            tick_texts(ax.get_xticklabels()),
            tick_texts(ax.get_yticklabels()),
            legend_texts(ax) if ax.get_legend() else None,
        )
    )


PLOTS = [
    ("fan", "ds", {"target": 2e9}),
    ("distribution", "ds", {"bins": 30}),
    ("exceedance", "ds", {"variable": "npv"}),
    ("payback", "ds", {}),
    ("waterfall", "waterfall_result", {}),
    ("tornado", "tornado_result", {"top": 3}),
    ("spider", "spider_result", {"top": 2}),
    ("sobol", "sobol_result", {"top": 4}),
    ("heatmap", "sweep_result", {"statistic": "median"}),
    ("compare", "options", {"variable": "bcr"}),
    ("uptake_priors", "ds", {}),
    ("equity", "ds", {"by": "age_band"}),
]


@pytest.mark.parametrize(("name", "fixture", "kwargs"), PLOTS)
def test_plot_accessor_methods_draw_what_the_functions_draw(request, name, fixture, kwargs):
    import matplotlib.pyplot as plt

    data = request.getfixturevalue(fixture)
    _, (left, right) = plt.subplots(1, 2)
    assert getattr(plot.PlotAccessor(data), name)(ax=left, **kwargs) is left
    assert getattr(plot, name)(data, ax=right, **kwargs) is right
    assert drawn(left) == drawn(right)
    render(left)


def test_plot_accessor_mirrors_every_plot_function():
    functions = {name for name in plot.__all__ if inspect.isfunction(getattr(plot, name))}
    methods = {
        name for name, _ in inspect.getmembers(plot.PlotAccessor, inspect.isfunction) if name[0] != "_"
    }
    assert methods == functions == {name for name, _, _ in PLOTS}
    for name in functions:
        assert getattr(plot.PlotAccessor, name).__doc__.startswith(
            f"Call :func:`nhsrisk.plot.{name}` on this"
        )


def test_every_public_plot_has_a_numpydoc_docstring_with_examples():
    assert 'Examples\n--------\n>>> import matplotlib; matplotlib.use("Agg")' in plot.__doc__
    public = [getattr(plot, name) for name in plot.__all__ if name != "OKABE_ITO"]
    methods = [member for name, member in inspect.getmembers(plot.PlotAccessor) if name in plot.__all__]
    for function in [*public, *methods]:
        doc = inspect.getdoc(function)
        sections = [
            'Examples\n--------\n>>> import matplotlib; matplotlib.use("Agg")',
            "Parameters\n----------",
        ]
        if inspect.isfunction(function):
            sections.append("Returns\n-------")
        if function in public and inspect.isfunction(function):
            sections.append("Raises\n------")
        for section in sections:
            assert section in doc, (function.__qualname__, section)


@pytest.mark.parametrize("scenario", ["as-announced", "examples/my-ics.toml"])
def test_the_fan_legend_keeps_clear_of_the_claim_line(scenario):
    # A local scheme's claim runs across the middle of its axes, where the legend used to sit.
    path = Path(__file__).resolve().parents[1] / scenario if scenario.endswith(".toml") else scenario
    ax = nhsrisk.plot.fan(nhsrisk.simulate(path, draws=2_000, seed=1))
    figure = ax.get_figure()
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    claim = next(line for line in ax.get_lines() if line.get_label() == "claimed return")
    (x0, y), (x1, _) = ax.transData.transform(np.column_stack(claim.get_data()))[[0, -1]]
    crosses = legend.y0 <= y <= legend.y1 and x0 <= legend.x1 and legend.x0 <= x1
    assert not crosses, (scenario, legend, y)


# --------------------------------------------------------------------------------------------------
# Figures a reader can trust (issue 13, item 7)
# --------------------------------------------------------------------------------------------------


def readable(text):
    """A title or label as a reader sees it: wrapped lines joined, non-breaking spaces as spaces."""
    return " ".join(text.replace("\u00a0", " ").split())


def test_inputs_carry_the_scenarios_labels(ds, tornado_result, spider_result, sobol_result):
    scenario = nhsrisk.load_scenario()
    # simulate: each sampled input says its label
    sampled = [name for name, var in ds.data_vars.items() if var.attrs.get("sampled_input") == 1]
    assert sampled and all(ds[name].attrs["label"] == scenario.input_label(name) for name in sampled)
    # the experiments: one per input, from the same home
    for result in (tornado_result, spider_result):
        assert list(result["input_label"].values) == [scenario.input_label(n) for n in result["input"].values]
    raid = [label for label in sobol_result["input_label"].values if "budget raid happens" in label]
    assert raid == ["Risks: whether a budget raid happens, every year"]
    assert "Moved together: every programme: cost overrun & every programme: delivery delay" in list(
        sobol_result["input_label"].values
    )


def test_tornado_spider_and_sobol_name_inputs_by_their_labels_unless_asked_for_key_paths(
    tornado_result, spider_result, sobol_result
):
    by_swing = tornado_result.isel(input=np.argsort(-tornado_result["swing"].values, kind="stable"))
    ax = render(plot.tornado(tornado_result))
    assert ticks_top_down(ax, " ") == list(by_swing["input_label"].values)
    assert "IT modernisation: cost overrun" in ticks_top_down(ax, " ")
    assert ticks_top_down(plot.tornado(tornado_result, labels="key")) == list(by_swing["input"].values)
    spider_ax = render(plot.spider(spider_result, inputs=["risks.released_time_used"]))
    assert readable(spider_ax.get_lines()[0].get_label()) == "Risks: released time put to use"
    shown = sobol_result.isel(input=np.argsort(-sobol_result["ST"].values, kind="stable")[:4])
    assert ticks_top_down(render(plot.sobol(sobol_result, top=4)), " ") == list(shown["input_label"].values)
    # a result without labels (sobol_indices, or an older save) shows its key paths
    unlabelled = sobol_result.drop_vars("input_label")
    # (key paths wrap after their dots; a correlated group's name also has spaces)
    assert [tick.replace(" ", "") for tick in ticks_top_down(plot.sobol(unlabelled, top=4))] == [
        str(name).replace(" ", "") for name in shown["input"].values
    ]
    with pytest.raises(
        ValueError, match=r"The 'labels' parameter of tornado must be one of \['readable', 'key'\]"
    ):
        plot.tornado(tornado_result, labels="keys")


def test_a_variants_title_names_the_scenario_and_what_was_changed():
    base = nhsrisk.load_scenario()
    variant = base.with_values({"risks.digital_exclusion": 0.1})
    ax = plot.fan(nhsrisk.simulate(variant, draws=500, seed=1))
    title = readable(ax.get_title())
    assert title.endswith("Spring Budget 2024 as announced with risks.digital_exclusion = 0.1")
    # a change wraps as a whole: "= 0.1" never starts a line
    assert not any(line.startswith("=") for line in ax.get_title().split("\n"))
    assert readable(
        plot.tornado(nhsrisk.tornado(variant, inputs=["risks.staff_capacity"])).get_title()
    ).endswith("with risks.digital_exclusion = 0.1")
    # many changes: two are listed, the rest counted
    many = variant.with_values(
        {"risks.staff_capacity": 0.9, "risks.raid_probability": 0.0, "risks.raid_fraction": 0.1}
    )
    title = readable(plot.exceedance(nhsrisk.simulate(many, draws=500, seed=1), "npv").get_title())
    assert title.endswith("with risks.digital_exclusion = 0.1; risks.staff_capacity = 0.9 and 2 more changes")
    # a named scenario: the head of its title
    ring = readable(plot.fan(nhsrisk.simulate("ring-fenced", draws=500, seed=1)).get_title())
    assert ring.endswith("\u00a0".join([]) + "Ring-fenced") and "with" not in ring.split("Ring-fenced")[1]


def footer_parts(ax):
    return footer_of(ax).split(" \u00b7 ")


@pytest.mark.parametrize(("name", "fixture", "kwargs"), PLOTS)
def test_every_figure_has_a_footer_with_the_runs_draws_seed_price_base_and_version(
    request, name, fixture, kwargs
):
    data = request.getfixturevalue(fixture)
    ax = render(getattr(plot, name)(data, **kwargs))
    parts = footer_parts(ax)
    assert parts[-2:] == ["2023/24 prices", f"nhsrisk {nhsrisk.__version__}"]
    expected = {
        "ds": ["2,000 draws", "seed 1"],
        "waterfall_result": ["2,000 draws per run", "seed 1"],
        "sweep_result": ["200 draws per cell", "seed 1"],
        "options": ["500 draws", "seed 1"],
        "sobol_result": ["Saltelli design of 64 base samples", "seed 1"],
        "tornado_result": [],  # no sampling: each input at fixed percentiles
        "spider_result": [],
    }[fixture]
    assert parts[:-2] == expected
    # under everything the axes draw: tick labels, axis labels, notes, legends
    figure = ax.get_figure(root=True)
    renderer = figure.canvas.get_renderer()
    (footer,) = [text for text in figure.texts if text.get_gid() == "nhsrisk-footer"]
    bottom = footer.get_window_extent(renderer)
    assert bottom.y0 >= 0
    for axes in figure.axes:
        assert axes.get_tightbbox(renderer).y0 > bottom.y1, (name, axes)
    assert getattr(plot, name)(data, footer=False, **kwargs).get_figure(root=True).texts == []
    with pytest.raises(TypeError, match=rf"The 'footer' parameter of {name} must be True or False"):
        getattr(plot, name)(data, footer="yes", **kwargs)


def test_a_figure_of_several_plots_has_one_footer_with_a_line_per_run(ds):
    import matplotlib.pyplot as plt

    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
    plot.fan(ds, ax=left)
    plot.exceedance(ds, "npv", ax=middle)
    assert (
        footer_of(left)
        == f"2,000 draws \u00b7 seed 1 \u00b7 2023/24 prices \u00b7 nhsrisk {nhsrisk.__version__}"
    )
    plot.distribution(nhsrisk.simulate(draws=500, seed=2), ax=right)
    assert [line.split(" \u00b7 ")[:2] for line in footer_of(right).split("\n")] == [
        ["2,000 draws", "seed 1"],
        ["500 draws", "seed 2"],
    ]
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    (footer,) = figure.texts
    assert all(
        axes.get_tightbbox(renderer).y0 > footer.get_window_extent(renderer).y1 for axes in figure.axes
    )


def legend_entries_drawn(ax):
    """Each legend entry with whether its artist is drawn inside the axes (some of it in view)."""
    from matplotlib.container import Container

    figure = ax.get_figure(root=True)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    view = ax.get_window_extent(renderer)
    handles, labels = ax.get_legend_handles_labels()
    drawn = {}
    for handle, label in zip(handles, labels, strict=True):
        artists = [a for a in handle if a is not None] if isinstance(handle, Container) else [handle]
        artists = [a for part in artists for a in (part if isinstance(part, tuple | list) else [part])]
        extents = [a.get_window_extent(renderer) for a in artists if a.get_visible()]
        drawn[label] = any(e.overlaps(view) or view.contains(e.x0, e.y0) for e in extents)
    return drawn


@pytest.mark.parametrize(("name", "fixture", "kwargs"), PLOTS)
def test_legends_list_only_what_is_drawn(request, name, fixture, kwargs):
    ax = getattr(plot, name)(request.getfixturevalue(fixture), **kwargs)
    drawn = legend_entries_drawn(ax)
    legend = ax.get_legend()
    shown = legend_texts(ax) if legend else []
    assert [label.replace("\n", "") for label in drawn] == shown
    assert all(drawn.values()), drawn


def test_a_waterfall_reference_beyond_the_bars_is_still_drawn_where_its_legend_says():
    steps = ["gross potential", "recovery", "planned", "overrun", "realised"]
    level = np.array([3e9, 2.5e9, 2.5e9, 2e9, 2e9])
    change = np.array([3e9, -0.5e9, 2.5e9, -0.5e9, 2e9])
    wf = xr.Dataset(
        {"level": ("step", level, {"units": "GBP"}), "change": ("step", change, {"units": "GBP"})},
        coords={"step": steps, "kind": ("step", ["total", "haircut", "total", "risk", "total"])},
        attrs={"reference": 35e9, "reference_name": "headline claim"},
    )
    ax = plot.waterfall(wf)
    low, high = ax.get_xlim()
    assert low < 35.0 < high
    assert legend_entries_drawn(ax)["headline claim (35.0)"]


def test_no_legend_when_nothing_drawn_has_a_label(ds):
    ax = plot.payback(ds, label="_nolegend_")
    assert ax.get_legend() is None


def tiny_run(above: int, draws: int = 100_000):
    """NPV draws of which ``above`` reach break-even (0)."""
    npv = np.full(draws, -1e9)
    npv[:above] = 1e9
    return xr.Dataset({"npv": ("draw", npv, {"units": "GBP", "long_name": "Net present value"})})


@pytest.mark.parametrize(("above", "relation"), [(1, "< 0.01%"), (99_999, "> 99.99%"), (5_000, "= 5.00%")])
def test_exceedance_prints_a_tiny_probability_as_below_its_resolution(above, relation):
    ax = plot.exceedance(tiny_run(above), "npv")
    (note,) = ax.texts
    assert unwrapped(note.get_text()).startswith(f"P(at least GBP 0bn) {relation} ± ")


@pytest.fixture(scope="module")
def full_tornado():
    return nhsrisk.tornado()


@pytest.fixture(scope="module")
def ics_tornado():
    # a local scheme's long programme names, and an output with a long name in GBP m
    return nhsrisk.tornado(ICS, "cumulative_value")


# and the long labels of every input, which push the axes (and their title and x label) to the right
@pytest.mark.parametrize(
    ("name", "fixture", "kwargs"),
    [*PLOTS, ("tornado", "full_tornado", {}), ("tornado", "ics_tornado", {}), ("sobol", "sobol_result", {})],
)
def test_every_text_of_a_figure_is_inside_it(request, name, fixture, kwargs):
    ax = getattr(plot, name)(request.getfixturevalue(fixture), **kwargs)
    figure = ax.get_figure(root=True)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    page = figure.bbox
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts, *figure.texts]
    # the tick labels drawn: those of ticks inside the view limits
    for axis, ticks, labels in (
        (ax.xaxis, ax.get_xticks(), ax.get_xticklabels()),
        (ax.yaxis, ax.get_yticks(), ax.get_yticklabels()),
    ):
        low, high = sorted(axis.get_view_interval())
        texts += [label for tick, label in zip(ticks, labels, strict=True) if low <= tick <= high]
    if ax.get_legend() is not None:
        texts += ax.get_legend().get_texts()
    for text in (t for t in texts if t.get_text()):
        box = text.get_window_extent(renderer)
        inside = (
            page.x0 - 1 <= box.x0
            and box.x1 <= page.x1 + 1
            and page.y0 - 1 <= box.y0
            and box.y1 <= page.y1 + 1
        )
        assert inside, (name, text.get_text(), box, page)


def test_the_waterfall_says_what_planned_means(waterfall_result):
    ax = plot.waterfall(waterfall_result)
    note = readable(ax.texts[-1].get_text())
    assert note.startswith(
        "Planned: what the announced spend profile would deliver with the risks listed under it switched off"
    )
    assert (
        "Gross potential: planned, before the haircuts" in note
        and "Realised: the scenario with every risk" in note
    )
