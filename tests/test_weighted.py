"""Statistics and plots of a run on weighted results (issue 17, item 3).

Updated results carry normalised importance weights as the ``weight``
coordinate on ``draw`` (:func:`nhsrisk.update`). The properties checked, for
``payback``, ``running_mean``, ``draws_needed``, ``exceedance_probability``,
``cap_binding``, ``draws_table`` and the plots ``fan``, ``distribution``,
``exceedance`` and ``payback``:

* equal weights give the unweighted answer. Not bit for bit: shares of the
  weight are running sums of ``1/n``, which round at about ``n * eps`` (some
  1e-13 for 2,000 draws), so 1e-12 relative (or absolute, for probabilities).
  Quantiles are the exception by design: weighted, they invert the empirical
  CDF (NumPy's ``inverted_cdf``, an order statistic, as ``describe`` does),
  so they are compared with that;
* whole-number weights (0, 1, 2...) give the answer of the unweighted
  function on each draw repeated that many times: probabilities, quantile
  bands, histogram, exceedance curve. Standard errors differ on purpose:
  repeated draws are not independent, and the weighted ones use Kish's
  effective number of draws ``floor(1 / sum(w**2))``;
* a figure's artists hold the numbers computed independently (NumPy on the
  repeated draws), and its title says how the draws were weighted, in the
  words of the printed summary;
* a realistic update (``nhsrisk.update`` on a run of 2,000 draws) gives
  finite figures throughout, and the functions that cannot use weights
  refuse them with a reason of their own.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk import Observation, plot, stats, update

N = 2_000
CLOSE = {"rtol": 1e-12, "atol": 1e-12}
FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


# the Agg backend, and every figure closed after each test (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("figures_closed")


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return nhsrisk.simulate(draws=N, seed=1, progress=False)


@pytest.fixture(scope="module")
def post(ds) -> xr.Dataset:
    """Updated by a bound on the cumulative value that favours the higher draws (ESS about 860)."""
    high = float(ds.cumulative_value.sel(year="2029/30").quantile(0.7))
    return update(ds, [Observation("cumulative_value", {"year": "2029/30"}, lower=high, sd=3e8)])


@pytest.fixture(scope="module")
def equal(ds) -> xr.Dataset:
    return ds.assign_coords(weight=("draw", np.full(N, 1.0 / N)))


@pytest.fixture(scope="module")
def counts() -> np.ndarray:
    """Whole-number weights 2, 1, 0, repeated: a third of the draws take no part."""
    return np.resize([2, 1, 0], N)


@pytest.fixture(scope="module")
def whole(ds, counts) -> xr.Dataset:
    return ds.assign_coords(weight=("draw", counts / counts.sum()))


@pytest.fixture(scope="module")
def repeated(ds, counts) -> xr.Dataset:
    """Each draw repeated as often as its whole-number weight, unweighted."""
    index = np.repeat(np.arange(N), counts)
    return ds.isel(draw=index).assign_coords(draw=np.arange(index.size))


def _n_eff(weights: np.ndarray) -> int:
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    return math.floor(1.0 / np.sum(w * w) + 1e-6)


def _total_cumulative_value(run: xr.Dataset) -> np.ndarray:
    """(year, draw) cumulative value summed over any programme dimension, in GBP."""
    da = run["cumulative_value"]
    extra = [d for d in da.dims if d not in ("year", "draw")]
    return np.asarray(da.sum(extra).transpose("year", "draw").values, dtype=float)


def _bands(ax) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(q05, q25, median, q75, q95) by year, as drawn by plot.fan (in the axis unit)."""
    median = next(line for line in ax.get_lines() if line.get_label() == "median").get_ydata()
    n = len(median)
    outer, inner = (
        next(c for c in ax.collections if c.get_label() == label).get_paths()[0].vertices[:, 1]
        for label in ("5-95%", "25-75%")
    )
    # fill_between's polygon: a start point, y1 forward, then y2 backward
    return (
        outer[1 : n + 1],
        inner[1 : n + 1],
        np.asarray(median),
        inner[n + 2 : 2 * n + 2][::-1],
        outer[n + 2 : 2 * n + 2][::-1],
    )


def _weighting_line(ax) -> str:
    return ax.get_title().split("\n")[-1]


# ------------------------------------------------------------------------------------------
# payback
# ------------------------------------------------------------------------------------------


def test_payback_with_equal_weights_is_the_unweighted_payback(ds, equal) -> None:
    plain, weighted = nhsrisk.payback(ds), nhsrisk.payback(equal)
    for name in (
        "payback_probability",
        "payback_probability_mcse",
        "payback_probability_upper_95",
        "payback_year_probability",
        "payback_year_probability_mcse",
    ):
        assert np.allclose(weighted[name], plain[name], **CLOSE), name
    assert str(weighted["median_payback_year"].values) == str(plain["median_payback_year"].values)
    assert weighted.attrs["effective_draws"] == N


def test_payback_with_whole_number_weights_is_the_payback_of_the_repeated_draws(
    whole, repeated, counts
) -> None:
    weighted, again = nhsrisk.payback(whole), nhsrisk.payback(repeated)
    for name in ("payback_probability", "payback_year_probability"):
        assert np.allclose(weighted[name], again[name], **CLOSE), name
    assert str(weighted["median_payback_year"].values) == str(again["median_payback_year"].values)
    # the errors use the effective number of draws, not the repeated count
    p = weighted["payback_probability"].values
    n_eff = _n_eff(counts)
    assert weighted.attrs["effective_draws"] == n_eff
    assert np.allclose(weighted["payback_probability_mcse"], np.sqrt(p * (1 - p) / n_eff), **CLOSE)


def test_the_weighted_median_payback_year_is_where_the_weight_reaches_one_half() -> None:
    years = ["2025/26", "2026/27", "2027/28"]
    # draw 0 pays back in the first year, draw 1 in the third, draw 2 never
    value = [[2.0, 0.0, 0.0], [2.0, 0.0, 0.0], [2.0, 3.0, 0.0]]
    spend = [[[1.0, 1.0, 1.0]], [[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]]
    run = xr.Dataset(
        {"cumulative_value": (("year", "draw"), value), "spend": (("year", "programme", "draw"), spend)},
        coords={"year": years},
    )
    for weights, median in (
        ([0.5, 0.2, 0.3], "2025/26"),
        ([0.2, 0.3, 0.5], "2027/28"),
        ([0.1, 0.3, 0.6], "not by 2027/28"),
    ):
        result = nhsrisk.payback(run.assign_coords(weight=("draw", weights)))
        assert str(result["median_payback_year"].values) == median, weights
        assert np.allclose(
            result["payback_year_probability"], [weights[0], 0.0, weights[1], weights[2]], **CLOSE
        )


def test_payback_of_updated_results_is_finite_and_records_the_weighting(post) -> None:
    result = nhsrisk.payback(post)
    for name, variable in result.data_vars.items():
        if variable.dtype.kind == "f":
            assert np.isfinite(variable.values).all(), name
    p = result["payback_probability"].values
    assert np.all(np.diff(p) >= 0) and np.all((p >= 0) & (p <= 1))
    assert float(result["payback_year_probability"].sum()) == pytest.approx(1.0, abs=1e-12)
    assert result.attrs["effective_draws"] == _n_eff(post.weight.values)
    assert len(json.loads(result.attrs["observations"])) == 1
    # the update favours the high-value draws: payback is likelier than in the prior
    assert p[-1] > float(nhsrisk.payback(post.drop_vars("weight"))["payback_probability"][-1])


# ------------------------------------------------------------------------------------------
# running_mean and draws_needed
# ------------------------------------------------------------------------------------------


def test_running_mean_with_equal_weights_is_the_unweighted_trace(ds, equal) -> None:
    for variable in ("npv", "value"):
        plain, weighted = stats.running_mean(ds, variable), stats.running_mean(equal, variable)
        assert np.array_equal(plain["n_draws"], weighted["n_draws"])
        for name in ("mean", "mcse", "ci_low", "ci_high"):
            assert np.allclose(weighted[name], plain[name], rtol=1e-12, atol=0.0), (variable, name)
        assert np.array_equal(weighted["effective_draws"], weighted["n_draws"])


def test_the_weighted_running_mean_is_the_weighted_mean_of_the_first_draws(whole, counts) -> None:
    trace = stats.running_mean(whole, "npv", points=30)
    x = whole["npv"].values
    columns = (trace[name].values for name in ("n_draws", "mean", "effective_draws"))
    for k, mean, effective in zip(*columns, strict=True):
        assert mean == pytest.approx(np.average(x[:k], weights=counts[:k]), rel=1e-12, abs=1e-3)
        assert effective == _n_eff(counts[:k])
    # the trace ends on describe's figures, exactly
    described = nhsrisk.describe(whole["npv"])
    assert float(trace["mean"][-1]) == float(described["mean"])
    assert float(trace["mcse"][-1]) == float(described["mcse"])


def test_a_running_mean_whose_first_draws_weigh_nothing_starts_at_two_weighted_draws(ds) -> None:
    w = np.ones(N)
    w[:10] = 0.0
    trace = stats.running_mean(ds.assign_coords(weight=("draw", w / w.sum())), "bcr")
    assert int(trace["n_draws"][0]) == 12  # draws 11 and 12 are the first two of positive weight
    for name in ("mean", "mcse", "ci_low", "ci_high", "effective_draws"):
        assert np.isfinite(trace[name].values).all(), name
    alone = np.zeros(N)
    alone[5] = 1.0
    with pytest.raises(ValueError, match="at least 2 draws of positive weight"):
        stats.running_mean(ds.assign_coords(weight=("draw", alone)), "bcr")


def test_draws_needed_with_equal_weights_is_the_unweighted_number(ds, equal) -> None:
    for precision, kwargs in (
        (1e7, {}),
        (2e8, {"confidence": 0.9}),
        (0.01, {"statistic": "probability", "threshold": 0.0}),
        (0.001, {"statistic": "probability", "threshold": 1e13}),  # no draw reaches it
    ):
        assert stats.draws_needed(equal["npv"], precision, **kwargs) == stats.draws_needed(
            ds["npv"], precision, **kwargs
        ), kwargs


def test_draws_needed_scales_the_effective_requirement_by_the_weights_inefficiency(ds) -> None:
    x = ds["npv"].values
    half = np.where(np.arange(N) % 3 == 0, 1.0, 0.0)  # a third of the draws carry the weight
    pilot = ds["npv"].assign_coords(weight=("draw", half / half.sum()))
    kept = x[half > 0]
    n_eff = kept.size
    expected = math.ceil((kept.std(ddof=1) / 1e7) ** 2 * N / n_eff)
    assert stats.draws_needed(pilot, 1e7) == expected
    p = float(np.mean(kept >= 0.0))
    assert stats.draws_needed(pilot, 0.01, statistic="probability", threshold=0.0) == math.ceil(
        p * (1 - p) / 0.01**2 * N / n_eff
    )
    # the accessor passes the weights on
    weighted_ds = ds.assign_coords(weight=("draw", half / half.sum()))
    assert weighted_ds.nhsrisk.draws_needed(1e7) == expected
    assert pilot.nhsrisk.draws_needed(1e7) == expected


# ------------------------------------------------------------------------------------------
# exceedance_probability, cap_binding, draws_table and the refusals
# ------------------------------------------------------------------------------------------


def test_weighted_exceedance_probability(ds, counts) -> None:
    x = ds["npv"].values
    thresholds = np.quantile(x, [0.1, 0.5, 0.9])
    plain_p, plain_se = stats.exceedance_probability(x, thresholds[:, None] * np.ones((3, 1)))
    equal_p, equal_se = stats.exceedance_probability(
        x, thresholds[:, None] * np.ones((3, 1)), weights=np.ones(N)
    )
    assert np.allclose(equal_p, plain_p, **CLOSE) and np.allclose(equal_se, plain_se, **CLOSE)
    p, se = stats.exceedance_probability(x, 0.0, weights=counts)
    again = np.repeat(x, counts)
    assert float(p) == pytest.approx(np.mean(again >= 0.0), abs=1e-12)
    assert float(se) == pytest.approx(math.sqrt(float(p) * (1 - float(p)) / _n_eff(counts)), rel=1e-12)
    with pytest.raises(ValueError, match="'weights' parameter of exceedance_probability"):
        stats.exceedance_probability(x, 0.0, weights=np.ones(N - 1))
    with pytest.raises(ValueError, match="non-negative"):
        stats.exceedance_probability([1.0, 2.0], 0.0, weights=[1.0, -1.0])


def test_cap_binding_counts_each_draw_by_its_weight() -> None:
    capped = np.zeros((2, 1, 4), dtype=bool)  # year, staff_group, draw
    capped[:, 0, 0] = True  # draw 0 binds in both years
    capped[1, 0, 1] = True  # draw 1 in the second
    run = xr.Dataset(
        {"hours_capped": (("year", "staff_group", "draw"), capped)},
        coords={"year": ["2025/26", "2026/27"], "staff_group": ["gp"]},
    )
    assert stats.cap_binding(run) == "gp 37.50% of draw-years"
    weighted = run.assign_coords(weight=("draw", [0.5, 0.1, 0.2, 0.2]))
    assert stats.cap_binding(weighted) == "gp 55.00% of draw-years, weighted"  # 0.5 + 0.1 / 2
    nothing = run.assign_coords(weight=("draw", [0.0, 0.0, 0.5, 0.5]))
    assert stats.cap_binding(nothing) == "never (in no draw, year or staff group)"


def test_draws_table_of_updated_results_has_the_weights(ds, post) -> None:
    table = stats.draws_table(post)
    assert table.columns[-1] == "weight" and table.attrs["units"]["weight"] == "1"
    assert np.allclose(table["weight"].values, post.weight.values, rtol=1e-14, atol=0.0)
    assert table.drop(columns="weight").equals(stats.draws_table(ds))
    assert np.average(table["npv"], weights=table["weight"]) == pytest.approx(
        float(nhsrisk.describe(post.npv)["mean"]), rel=1e-12
    )


def test_what_cannot_use_weights_refuses_them_saying_why(ds, post) -> None:
    with pytest.raises(
        NotImplementedError, match=r"budget_change_effect does not use importance weights: .*pairs"
    ):
        nhsrisk.budget_change_effect(post, ds)
    with pytest.raises(NotImplementedError, match="budget_change_effect"):
        nhsrisk.budget_change_effect(ds, post)
    with pytest.raises(NotImplementedError, match=r"describe does not use importance weights: .*dim='year'"):
        nhsrisk.describe(post["cumulative_value"], dim="year")
    with pytest.raises(
        NotImplementedError, match=r"compare does not use importance weights: the run 'updated'"
    ):
        plot.compare({"prior": ds, "updated": post})
    with pytest.raises(NotImplementedError) as refused:
        nhsrisk.budget_change_effect(post, ds)
    assert "being added" not in str(refused.value) and "'weight' coordinate" in str(refused.value)


def test_heatmap_refuses_a_weighted_sweep() -> None:
    sw = nhsrisk.sweep(
        "as-announced",
        {"risks.raid_probability": [0.0, 0.5], "risks.digital_exclusion": [0.0, 0.2]},
        draws=100,
        seed=1,
    )
    weighted = sw.assign_coords(weight=("draw", np.full(100, 0.01)))
    with pytest.raises(NotImplementedError, match=r"heatmap does not use importance weights: each cell"):
        plot.heatmap(weighted)
    plot.heatmap(sw)  # unweighted, unchanged


def test_figures_of_experiments_refuse_a_run_rather_than_draw_it(post) -> None:
    # tornado, spider, sobol and waterfall take an experiment's output, never a run's draws
    for draw in (plot.tornado, plot.spider, plot.sobol, plot.waterfall):
        with pytest.raises(ValueError, match="must be a Dataset from nhsrisk"):
            draw(post)


# ------------------------------------------------------------------------------------------
# plots of a run
# ------------------------------------------------------------------------------------------


def test_the_fan_of_whole_number_weights_draws_the_quantiles_of_the_repeated_draws(whole, repeated) -> None:
    ax = plot.fan(whole)
    assert "GBP bn" in ax.get_ylabel()
    expected = np.quantile(_total_cumulative_value(repeated), FAN_QUANTILES, axis=-1, method="inverted_cdf")
    for k, drawn in enumerate(_bands(ax)):
        assert np.allclose(np.asarray(drawn) * 1e9, expected[k], rtol=1e-12, atol=0.0), FAN_QUANTILES[k]
    assert _weighting_line(ax) == f"Importance-weighted ({_n_eff(whole.weight.values):,} effective draws)"


def test_the_fan_of_equal_weights_draws_the_inverted_cdf_quantiles(ds, equal) -> None:
    ax = plot.fan(equal)
    expected = np.quantile(_total_cumulative_value(ds), FAN_QUANTILES, axis=-1, method="inverted_cdf")
    for k, drawn in enumerate(_bands(ax)):
        assert np.allclose(np.asarray(drawn) * 1e9, expected[k], rtol=1e-12, atol=0.0)
    # unweighted, the title has no weighting line and the bands interpolate (NumPy's default)
    plain = plot.fan(ds)
    assert "eighted" not in plain.get_title()
    linear = np.quantile(_total_cumulative_value(ds), FAN_QUANTILES, axis=-1)
    assert np.allclose(np.asarray(_bands(plain)[2]) * 1e9, linear[2], rtol=1e-12)


def test_the_fan_of_updated_results_says_how_they_were_weighted_as_the_summary_does(post) -> None:
    ax = plot.fan(post)
    n_eff = _n_eff(post.weight.values)
    line = f"Weighted by 1 observation ({n_eff:,} effective draws)"
    assert _weighting_line(ax) == line
    # the printed summary's words, and its count of effective draws
    assert line[1:] in str(nhsrisk.summary(post)).splitlines()[0]
    drawn = np.concatenate(_bands(ax))
    assert np.isfinite(drawn).all()
    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":  # weighted quantiles came with NumPy 2.0
        expected = np.quantile(
            _total_cumulative_value(post),
            FAN_QUANTILES,
            axis=-1,
            weights=post.weight.values[None, :].repeat(10, 0),
            method="inverted_cdf",
        )
        assert np.allclose(np.stack(_bands(ax)) * 1e9, expected, rtol=1e-12, atol=0.0)
    # the accessor draws the same
    again = post.nhsrisk.plot.fan()
    assert again.get_title() == ax.get_title()
    png = plot.render_png(lambda a: plot.fan(post, ax=a))
    assert png[1:4] == b"PNG"


def test_the_distribution_of_whole_number_weights_is_the_histogram_of_the_repeated_draws(
    whole, repeated, counts
) -> None:
    ax = plot.distribution(whole, bins=30)
    heights = np.array([patch.get_height() for patch in ax.patches])
    edges = np.array(
        [patch.get_x() for patch in ax.patches] + [ax.patches[-1].get_x() + ax.patches[-1].get_width()]
    )
    again, _ = np.histogram(repeated["npv"].values / 1e9, bins=edges)
    # each bar is the weight in its bin, scaled so that the bars add up to the draws
    assert np.allclose(heights, again * N / counts.sum(), **CLOSE)
    assert float(heights.sum()) == pytest.approx(N, rel=1e-12)
    assert ax.get_ylabel().startswith("Weighted number of draws")
    median = np.quantile(repeated["npv"].values, 0.5, method="inverted_cdf") / 1e9
    assert any(
        line.get_label().startswith("median") and np.isclose(line.get_xdata()[0], median, rtol=1e-12)
        for line in ax.get_lines()
    )
    with pytest.raises(ValueError, match="'weights' parameter of distribution"):
        plot.distribution(whole, weights=np.ones(N))


def test_the_distribution_of_equal_weights_counts_the_draws(ds, equal) -> None:
    plain = [p.get_height() for p in plot.distribution(ds, bins=25).patches]
    weighted = [p.get_height() for p in plot.distribution(equal, bins=25).patches]
    assert np.allclose(weighted, plain, **CLOSE)


def test_the_exceedance_curve_of_whole_number_weights_is_that_of_the_repeated_draws(
    whole, repeated, counts
) -> None:
    ax = plot.exceedance(whole, "npv")
    x, y = (np.asarray(v) for v in ax.get_lines()[0].get_data())
    levels, share = np.unique(whole["npv"].values), y[1:-1] / 100.0  # without the pads at either end
    assert np.allclose(x[1:-1], levels / 1e9, **CLOSE)
    again = np.sort(repeated["npv"].values)
    expected = 1.0 - np.searchsorted(again, levels, side="left") / again.size
    assert np.allclose(share, expected, rtol=0.0, atol=1e-12)
    assert y[0] == 100.0 and y[-1] == 0.0
    # the annotation at break-even: the weighted probability and its error from the effective draws
    p, se = stats.exceedance_probability(whole["npv"].values, 0.0, weights=counts)
    assert float(p) == pytest.approx(np.mean(again >= 0.0), abs=1e-12)
    text = " ".join(t.get_text() for t in ax.texts).replace("\n", " ")
    assert "MCSE" in text
    assert _weighting_line(ax).startswith("Importance-weighted")


def test_the_exceedance_curve_of_equal_weights_is_the_unweighted_curve(ds, equal) -> None:
    plain = np.asarray(plot.exceedance(ds).get_lines()[0].get_ydata())
    weighted = np.asarray(plot.exceedance(equal).get_lines()[0].get_ydata())
    assert np.allclose(weighted, plain, rtol=0.0, atol=1e-10)


def test_the_exceedance_of_an_unreached_target_reports_the_bound_from_the_effective_draws(post) -> None:
    ax = plot.exceedance(post, target=1e13)
    n_eff = _n_eff(post.weight.values)
    text = " ".join(t.get_text() for t in ax.texts).replace("\n", " ")
    bound = 1.0 - 0.05 ** (1.0 / n_eff)
    assert re.search(r"one-sided 95% upper bound", text)
    assert f"{100 * bound:.3g}" in text.replace("%", "")


def test_the_payback_figure_draws_the_weighted_probabilities(post, whole, repeated) -> None:
    for source in (post, nhsrisk.payback(post)):
        ax = plot.payback(source)
        y = np.asarray(ax.get_lines()[0].get_ydata())
        assert np.allclose(y, 100.0 * nhsrisk.payback(post)["payback_probability"].values, **CLOSE)
        assert _weighting_line(ax).startswith("Weighted by 1 observation (")
    y = np.asarray(plot.payback(whole).get_lines()[0].get_ydata())
    assert np.allclose(y, 100.0 * nhsrisk.payback(repeated)["payback_probability"].values, **CLOSE)


def test_the_accessors_use_the_weights(post) -> None:
    assert float(post.nhsrisk.describe("npv")["mean"]) == float(nhsrisk.describe(post["npv"])["mean"])
    assert np.array_equal(
        post.nhsrisk.payback()["payback_probability"], nhsrisk.payback(post)["payback_probability"]
    )
    trace = post.nhsrisk.running_mean("npv", points=10)
    assert float(trace["mean"][-1]) == float(nhsrisk.describe(post["npv"])["mean"])
    assert float(post["npv"].nhsrisk.running_mean(points=10)["mean"][-1]) == float(trace["mean"][-1])
    assert "weight" in post.nhsrisk.to_dataframe().columns
    for draw in ("fan", "distribution", "exceedance", "payback"):
        ax = getattr(post.nhsrisk.plot, draw)()
        assert _weighting_line(ax).startswith("Weighted by 1 observation"), draw
