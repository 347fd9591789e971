"""``nhsrisk.update``: importance weights from observations (issue 17, item 2).

The checks are exact where the answer is known in closed form:

* a normal prior and a normal measurement (conjugate): the weighted mean and
  variance must match the posterior's within Monte Carlo error. The error of a
  self-normalised importance estimate of the mean is about ``sd_post /
  sqrt(ESS)`` (Kong, 1992); the band is 4 of those (fixed seed: deterministic);
* an observation with a huge standard deviation carries no information: every
  weight is 1/N to rounding;
* two observations applied one after the other equal both at once.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk import Observation, load_observations, update
from nhsrisk.stats import effective_sample_size


def _normal_prior(n: int = 100_000, mean: float = 2.0, sd: float = 1.0, seed: int = 3) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {
            "x": ("draw", rng.normal(mean, sd, n)),
            "y": (("year", "draw"), rng.uniform(0.0, 1.0, (2, n))),
        },
        coords={"year": ["2025/26", "2026/27"]},
    )


@pytest.mark.parametrize(("observed", "noise"), [(2.5, 0.5), (1.0, 1.0), (3.0, 2.0)])
def test_a_normal_measurement_gives_the_conjugate_posterior(observed: float, noise: float) -> None:
    prior_mean, prior_sd = 2.0, 1.0
    ds = _normal_prior(mean=prior_mean, sd=prior_sd)
    post = update(ds, Observation("x", value=observed, sd=noise))
    precision = 1 / prior_sd**2 + 1 / noise**2
    mean = (prior_mean / prior_sd**2 + observed / noise**2) / precision
    sd = math.sqrt(1 / precision)
    w, x = post.weight.values, ds.x.values
    ess = post.attrs["effective_sample_size"]
    got_mean = float(np.sum(w * x))
    got_var = float(np.sum(w * (x - got_mean) ** 2))
    assert abs(got_mean - mean) <= 4 * sd / math.sqrt(ess)
    # the variance's error: sd**2 * sqrt(2 / ESS) for a normal posterior
    assert abs(got_var - sd**2) <= 4 * sd**2 * math.sqrt(2 / ess)
    assert math.isclose(float(w.sum()), 1.0, rel_tol=1e-12)
    assert ess == pytest.approx(effective_sample_size(w), rel=1e-12)


def test_an_observation_without_information_leaves_every_weight_at_one_over_n() -> None:
    ds = _normal_prior(n=10_000)
    post = update(ds, Observation("x", value=2.0, sd=1e12))
    assert np.max(np.abs(post.weight.values * 10_000 - 1.0)) < 1e-9
    assert post.attrs["effective_sample_size"] == pytest.approx(10_000, rel=1e-9)


def test_one_after_the_other_equals_both_at_once() -> None:
    ds = _normal_prior()
    first = Observation("x", value=2.4, sd=0.8)
    second = Observation("y", {"year": "2026/27"}, lower=0.2, upper=0.9, sd=0.05)
    both = update(ds, [first, second])
    sequential = update(update(ds, first), second)
    assert np.allclose(sequential.weight.values, both.weight.values, rtol=1e-10, atol=0.0)
    assert json.loads(sequential.attrs["observations"]) == json.loads(both.attrs["observations"])
    assert len(json.loads(both.attrs["observations"])) == 2


def test_a_hard_bound_gives_zero_weight_outside_it_and_equal_weight_inside() -> None:
    ds = _normal_prior(n=20_000)
    post = update(ds, Observation("x", lower=1.5, upper=2.5))
    inside = (ds.x.values >= 1.5) & (ds.x.values <= 2.5)
    assert np.all(post.weight.values[~inside] == 0.0)
    assert np.allclose(post.weight.values[inside], 1 / inside.sum(), rtol=1e-12)


def test_a_measured_bound_is_the_normal_probability_of_the_interval() -> None:
    from scipy.stats import norm

    ds = _normal_prior(n=2_000)
    seen = Observation("x", lower=1.0, upper=1.6, sd=0.3)
    x = ds.x.values
    a, b = (1.0 - x) / 0.3, (1.6 - x) / 0.3
    # from the tail on the interval's side, where a difference of CDFs near 1 would cancel
    expected = np.where(a > 0, norm.sf(a) - norm.sf(b), norm.cdf(b) - norm.cdf(a))
    got = np.exp(seen.log_likelihood(x))
    assert np.allclose(got, expected, rtol=1e-9, atol=1e-300)
    # one-sided, far in the tail, where a plain difference of CDFs would round to 0
    tail = Observation("x", lower=40.0, sd=1.0).log_likelihood(np.array([0.0]))
    assert tail[0] == pytest.approx(norm.logsf(40.0), rel=1e-9)


def test_unselected_dimensions_are_summed() -> None:
    ds = _normal_prior(n=5_000)
    total = ds.y.sum("year").values
    by_sum = update(ds, Observation("y", value=1.2, sd=0.2))
    by_hand = np.exp(-0.5 * ((total - 1.2) / 0.2) ** 2)
    assert np.allclose(by_sum.weight.values, by_hand / by_hand.sum(), rtol=1e-12)


def test_a_degenerate_update_is_refused_with_the_effective_sample_size() -> None:
    ds = _normal_prior(n=10_000)
    with pytest.raises(ValueError, match=r"effective sample size of [\d,.]+ of 10,000 draws"):
        update(ds, Observation("x", value=6.0, sd=0.01))
    # accepted when the caller takes the degeneracy on
    post = update(ds, Observation("x", value=6.0, sd=0.01), min_effective_share=0.0)
    assert post.attrs["effective_sample_size"] < 10


def test_no_consistent_draw_is_refused() -> None:
    with pytest.raises(ValueError, match="no draw of the 5,000 is consistent"):
        update(_normal_prior(n=5_000), Observation("x", lower=100.0))


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"output": "x"}, ValueError, "'value' parameter"),
        ({"output": "x", "value": 1.0}, ValueError, "'sd' parameter"),
        ({"output": "x", "value": 1.0, "sd": 0.0}, ValueError, "'sd' parameter"),
        ({"output": "x", "value": 1.0, "sd": 1.0, "lower": 0.0}, ValueError, "'value' parameter"),
        ({"output": "x", "lower": 2.0, "upper": 1.0}, ValueError, "'upper' parameter"),
        ({"output": "x", "value": float("nan"), "sd": 1.0}, TypeError, "'value' parameter"),
        ({"output": "", "value": 1.0, "sd": 1.0}, TypeError, "'output' parameter"),
        ({"output": "x", "where": {"year": 2025}, "value": 1.0, "sd": 1.0}, TypeError, "'where' parameter"),
    ],
)
def test_a_bad_observation_is_refused_naming_the_parameter(kwargs, error, words) -> None:
    with pytest.raises(error, match=words):
        Observation(**kwargs)


def test_an_observation_of_something_not_in_the_results_is_refused() -> None:
    ds = _normal_prior(n=100)
    with pytest.raises(ValueError, match="outputs of the results"):
        update(ds, Observation("npv", value=1.0, sd=1.0))
    with pytest.raises(ValueError, match="a 'year' among"):
        update(ds, Observation("y", {"year": "2030/31"}, value=1.0, sd=1.0))
    with pytest.raises(ValueError, match="dimensions of 'y'"):
        update(ds, Observation("y", {"programme": "a"}, value=1.0, sd=1.0))


def test_observations_load_from_toml(tmp_path) -> None:
    path = tmp_path / "observed.toml"
    path.write_text(
        "[[observations]]\n"
        'output = "spend"\n'
        'where = { year = "2025/26" }\n'
        "value = 0.9e9\n"
        "sd = 0.05e9\n"
        'source = "illustrative"\n'
        "[[observations]]\n"
        'output = "uptake"\n'
        'where = { year = "2025/26", programme = "staff_technology" }\n'
        "lower = 0.1\n",
        encoding="utf-8",
    )
    loaded = load_observations(path)
    assert [o.output for o in loaded] == ["spend", "uptake"]
    assert loaded[0].where == {"year": "2025/26"} and loaded[1].lower == 0.1
    path.write_text(
        '[[observations]]\noutput = "spend"\nvalue = 1.0\nsd = 1.0\ncolour = "red"\n', encoding="utf-8"
    )
    with pytest.raises(ValueError, match="keys among"):
        load_observations(path)


def test_what_cannot_use_weights_refuses_updated_results_and_what_can_uses_them() -> None:
    from nhsrisk import plot

    ds = nhsrisk.simulate(draws=2_000, seed=5, progress=False)
    first_year = float(ds.spend.sel(year="2025/26").sum("programme").mean())
    post = update(ds, Observation("spend", {"year": "2025/26"}, value=first_year, sd=1e8))
    assert post.weight.dims == ("draw",)
    # the weights travel with every variable taken from the results
    assert "weight" in post["npv"].coords
    # pairs of draws of two runs cannot carry one run's weights: refused, with the reason
    with pytest.raises(NotImplementedError, match="in pairs"):
        nhsrisk.budget_change_effect(post, ds)
    with pytest.raises(NotImplementedError, match="does not use importance weights"):
        plot.compare({"updated": post, "prior": ds})
    # payback uses them: its probabilities are shares of the weight, not of the draws
    weighted = nhsrisk.payback(post).payback_probability.values
    cumulative = post.cumulative_value.transpose("year", "draw").values
    costs = (post.spend + post.running_cost + post.dual_running_cost).sum("programme").cumsum("year")
    costs = costs.transpose("year", "draw").values
    first = np.maximum.accumulate(cumulative >= costs, axis=0)
    np.testing.assert_allclose(weighted, first.astype(float) @ post.weight.values, rtol=1e-12)
    # the unweighted results still work, and are unchanged
    assert "weight" not in ds.coords
    plot.fan(ds)


def test_sobol_points_are_not_weighted() -> None:
    ds = nhsrisk.simulate(draws=1_024, seed=5, sampler="sobol", progress=False)
    with pytest.raises(ValueError, match="Sobol"):
        update(ds, Observation("npv", value=0.0, sd=1e9))


def test_the_report_of_weighted_results_is_refused_in_one_line_and_writes_nothing(tmp_path, capsys) -> None:
    from nhsrisk import cli

    ds = nhsrisk.simulate(draws=2_000, seed=5, progress=False)
    post = update(ds, Observation("npv", value=float(ds.npv.mean()), sd=1e9))
    results = tmp_path / "weighted.nc"
    nhsrisk.save_results(post, results)
    out = tmp_path / "report"
    assert cli.main(["report", str(results), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    # the waterfall and tornado re-simulate the prior: the report says so rather than mix the two
    refused = r"nhsrisk report: render_report does not use importance weights: its waterfall"
    assert re.match(refused, error), error
    assert "\n" not in error
    assert not out.exists() or not any(out.iterdir())


# ------------------------------------------------------------------------------------------
# weighted describe and summary (issue 17, item 3, first part)
# ------------------------------------------------------------------------------------------


def _with_weights(da: xr.DataArray, weights: np.ndarray) -> xr.DataArray:
    return da.assign_coords(weight=("draw", weights / weights.sum()))


def test_equal_weights_describe_as_the_unweighted_draws() -> None:
    rng = np.random.default_rng(8)
    n = 4_000  # tail 0.05 x 4,000 = 200 draws exactly
    da = xr.DataArray(rng.lognormal(0.0, 1.0, (2, n)), dims=("year", "draw"), name="v")
    plain = nhsrisk.describe(da)
    weighted = nhsrisk.describe(_with_weights(da, np.ones(n)))
    assert weighted.attrs["effective_draws"] == n
    for name in ("mean", "sd", "mcse", "expected_shortfall", "expected_shortfall_mcse"):
        assert np.allclose(weighted[name], plain[name], rtol=1e-12), name
    # the confidence bounds are the same order statistics, bit for bit
    assert np.array_equal(weighted["quantile_low"], plain["quantile_low"])
    assert np.array_equal(weighted["quantile_high"], plain["quantile_high"])
    # the estimate inverts the empirical CDF (NumPy's "inverted_cdf")
    expected = np.moveaxis(np.quantile(da.values, (0.05, 0.5, 0.95), axis=-1, method="inverted_cdf"), 0, -1)
    assert np.array_equal(weighted["quantile_estimate"].values, expected)


def test_whole_number_weights_describe_as_the_repeated_draws() -> None:
    rng = np.random.default_rng(9)
    values = rng.normal(size=3_000)
    counts = rng.integers(1, 4, size=3_000)
    weighted = nhsrisk.describe(_with_weights(xr.DataArray(values, dims="draw"), counts.astype(float)))
    repeated = np.repeat(values, counts)
    probabilities = (0.05, 0.5, 0.95)
    assert np.array_equal(
        weighted["quantile_estimate"].values, np.quantile(repeated, probabilities, method="inverted_cdf")
    )
    assert float(weighted["mean"]) == pytest.approx(repeated.mean(), rel=1e-12)


def test_the_weighted_quantiles_of_a_normal_posterior_are_within_their_error() -> None:
    from scipy.stats import norm

    ds = _normal_prior(n=100_000)
    post = update(ds, Observation("x", value=3.0, sd=0.7))
    stats = nhsrisk.describe(post["x"], quantiles=(0.1, 0.5, 0.9))
    precision = 1 + 1 / 0.7**2
    mean, sd = (2.0 + 3.0 / 0.7**2) / precision, math.sqrt(1 / precision)
    n_eff = stats.attrs["effective_draws"]
    for k, q in enumerate((0.1, 0.5, 0.9)):
        truth = norm.ppf(q, mean, sd)
        # the standard error of a sample quantile: sqrt(q (1 - q) / n_eff) / f(x_q)
        se = math.sqrt(q * (1 - q) / n_eff) / norm.pdf(truth, mean, sd)
        assert abs(float(stats["quantile_estimate"][k]) - truth) <= 4 * se
        assert float(stats["quantile_low"][k]) <= float(stats["quantile_estimate"][k])
        assert float(stats["quantile_estimate"][k]) <= float(stats["quantile_high"][k])
    assert float(stats["mean"]) == pytest.approx(mean, abs=4 * sd / math.sqrt(n_eff))


def test_the_summary_of_updated_results_is_weighted_and_says_so() -> None:
    ds = nhsrisk.simulate(draws=20_000, seed=5, progress=False)
    uninformative = update(ds, Observation("npv", value=0.0, sd=1e15))
    plain, same = nhsrisk.summary(ds), nhsrisk.summary(uninformative)
    assert same.attrs["effective_draws"] == 20_000
    for name in ("mean", "mcse", "quantile_low", "quantile_high", "p_target", "p_bcr_below_1"):
        assert np.allclose(same[name], plain[name], rtol=1e-9), name
    # an informative observation moves the figures and the title says how they were weighted
    high = float(ds.cumulative_value.sel(year="2029/30").quantile(0.8))
    post = update(ds, Observation("cumulative_value", {"year": "2029/30"}, lower=high, sd=1e8))
    table = nhsrisk.summary(post)
    assert float(table["mean"][0]) > float(plain["mean"][0])
    assert "weighted by 1 observation" in str(table).splitlines()[0]
    assert 0 < table.attrs["effective_draws"] < 20_000


def test_a_tail_that_lies_on_one_heavy_draw_is_refused() -> None:
    values = np.arange(10_000, dtype=float)
    weights = np.full(10_000, 0.94 / 9_999)
    weights[0] = 0.06  # the lowest draw holds 6% of the weight; about 270 effective draws
    with pytest.raises(ValueError, match="lies on a single draw"):
        nhsrisk.describe(_with_weights(xr.DataArray(values, dims="draw"), weights))


def test_nhsrisk_update_writes_the_weighted_summary_beside_the_run(tmp_path, capsys) -> None:
    from nhsrisk import cli

    run = tmp_path / "run"
    assert cli.main(["run", "--draws", "3000", "--seed", "4", "--out", str(run)]) == 0
    capsys.readouterr()
    observed = tmp_path / "observed.toml"
    observed.write_text(
        '[[observations]]\noutput = "spend"\nwhere = { year = "2025/26" }\nvalue = 0.9e9\nsd = 0.1e9\n'
        'source = "illustrative"\n',
        encoding="utf-8",
    )
    assert cli.main(["update", str(run), str(observed)]) == 0
    printed = capsys.readouterr().out
    assert "weighted by 1 observation" in printed.splitlines()[0]
    folder = run / "updated"
    assert sorted(p.name for p in folder.iterdir()) == [
        "exceedance.png",
        "fan.png",
        "manifest.json",
        "results.nc",
        "summary.txt",
    ]
    assert (folder / "fan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = (folder / "summary.txt").read_text(encoding="utf-8")
    assert written.startswith(printed.splitlines()[0])
    # what the observation changes: the run before, then with it
    assert "What each observation changes (3,000 draws" in written
    assert re.search(r"^before +3,000 ", written, flags=re.M)
    assert re.search(r"^spend 2025/26 +\d", written, flags=re.M)
    with nhsrisk.open_results(folder / "results.nc", chunks=None) as back:
        assert "weight" in back.coords and back.attrs["effective_sample_size"] > 300
    # the shipped 2025/26 set observes uptake, which a default run keeps
    assert cli.main(["update", str(run), "2025-26", "--out", str(tmp_path / "2025-26")]) == 0
    assert "weighted by 2 observations" in capsys.readouterr().out.splitlines()[0]
    # a second time needs --force; a bad observations file is one line, exit 2, nothing written
    assert cli.main(["update", str(run), str(observed)]) == 2
    observed.write_text('[[observations]]\noutput = "nothing"\nvalue = 1.0\nsd = 1.0\n', encoding="utf-8")
    assert cli.main(["update", str(run), str(observed), "--out", str(tmp_path / "bad")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("nhsrisk update: ") and "outputs of the results" in error[-1]
    assert not (tmp_path / "bad").exists()


def test_the_shipped_2025_26_observations_load_with_their_sources_and_update_the_default() -> None:
    from nhsrisk.update import OBSERVATION_SETS

    assert "2025-26" in OBSERVATION_SETS
    observations = load_observations("2025-26")
    assert [o.output for o in observations] == ["spend", "uptake"]
    for observation in observations:
        # each says where it comes from and how it was derived, in words a reader can check
        assert len(observation.source) > 200
        assert re.search(r"20(25|26)", observation.source)
    ds = nhsrisk.simulate(draws=4_000, seed=11, progress=False)
    post = update(ds, observations)
    share = post.attrs["effective_sample_size"] / ds.sizes["draw"]
    assert 0.1 < share < 0.9  # informative, and far from degenerate
    # the uptake observation (0.05) is above the prior's median for the strand: it moves the mean up
    uptake = ds.uptake.sel(year="2025/26", programme="staff_technology")
    assert float(post.weight @ uptake) > float(uptake.mean())


def test_observation_effects_are_the_weighted_summaries_of_each_case() -> None:
    from nhsrisk.update import observation_effects

    ds = nhsrisk.simulate(draws=4_000, seed=12, progress=False)
    observations = load_observations("2025-26")
    effects = observation_effects(ds, observations)
    assert [str(c) for c in effects.case.values] == [
        "before",
        "spend 2025/26",
        "uptake 2025/26, staff_technology",
        "all together",
    ]
    before = nhsrisk.summary(ds)
    assert float(effects.bcr_median.sel(case="before")) == float(
        before.quantile_estimate.sel(output="bcr", quantile=0.5)
    )
    assert float(effects.effective_sample_size.sel(case="before")) == 4_000
    both = update(ds, observations)
    assert (
        float(effects.effective_sample_size.sel(case="all together")) == both.attrs["effective_sample_size"]
    )
    assert float(effects.npv_mean.sel(case="all together")) == pytest.approx(
        float(both.weight @ both.npv), rel=1e-12
    )
    alone = update(ds, observations[1])
    assert float(effects.p_bcr_below_1.sel(case="uptake 2025/26, staff_technology")) == pytest.approx(
        float(alone.weight @ (alone.bcr < 1)), rel=1e-12
    )
    with pytest.raises(ValueError, match="not yet updated"):
        observation_effects(both, observations)
