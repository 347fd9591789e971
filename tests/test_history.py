"""The delivery record shipped in nhsrisk/data/observations and the checks of the uptake priors on it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special

from nhsrisk import load_scenario
from nhsrisk.history import (
    CONFIDENCE_CODES,
    HISTORY_SERIES,
    decimal_year,
    fit_s_curve,
    load_history,
    steepness_evidence,
    uptake_prior_check,
)

STATUSES = {"outturn", "derived", "forecast", "target", "plan", "untraced"}


@pytest.mark.parametrize("series", sorted(HISTORY_SERIES))
def test_every_row_has_a_source_a_confidence_code_and_a_status(series: str) -> None:
    frame = load_history(series)
    assert len(frame) >= 4
    assert frame.source.str.len().min() > 10
    assert set(frame.confidence) <= set(CONFIDENCE_CODES)
    assert set(frame.status) <= STATUSES
    # an untraced figure is labelled as such both ways
    assert ((frame.confidence == "A") == (frame.status == "untraced")).all()
    if "share" in frame:
        assert frame.share.between(0, 1).all()
    if "date" in frame:
        assert frame.date.dt.year.between(2019, 2026).all()


def test_epr_shares_are_the_trust_counts_divided():
    epr = load_history("epr_coverage").dropna(subset=["trusts_meeting", "trusts_total"])
    assert len(epr) == 6
    np.testing.assert_allclose(epr.share, epr.trusts_meeting / epr.trusts_total, atol=5e-5)
    # Jun 2022: 43 at the standard + 138 needing extension + 30 with none = 211 trusts
    first = epr[epr.measure == "nhse_epr_standard"].iloc[0]
    assert first.trusts_total == 43 + 138 + 30


def test_unknown_series_is_refused_with_the_names_allowed():
    with pytest.raises(ValueError, match="series.*epr_coverage"):
        load_history("epr")


def test_decimal_year():
    years = decimal_year(["2022-01-01", "2022-07-02", "2024-12-31"])
    np.testing.assert_allclose(years, [2022.0, 2022 + 182 / 365, 2024 + 365 / 366])


def test_fit_with_a_fixed_ceiling_recovers_an_exact_logistic():
    t = np.array([2020.0, 2020.7, 2021.5, 2023.0])
    y = 0.9 * scipy.special.expit(1.7 * (t - 2021.2))
    fit = fit_s_curve(t, y, ceiling=0.9)
    assert fit.steepness == pytest.approx(1.7, rel=1e-12)
    assert fit.midpoint == pytest.approx(2021.2, rel=1e-12)
    assert fit.points == 4


def test_fit_with_a_free_ceiling_recovers_a_noisy_logistic_within_its_interval():
    rng = np.random.default_rng(11)
    t = np.linspace(2019.0, 2025.0, 12)
    y = 0.75 * scipy.special.expit(2.0 * (t - 2021.5)) + rng.normal(0, 0.01, t.size)
    fit = fit_s_curve(t, y)
    assert fit.steepness_low < 2.0 < fit.steepness_high
    assert fit.ceiling == pytest.approx(0.75, abs=0.03)


def test_fit_refuses_values_at_or_above_the_ceiling():
    with pytest.raises(ValueError, match="ceiling"):
        fit_s_curve([2020.0, 2021.0], [0.5, 1.0], ceiling=1.0)
    with pytest.raises(ValueError, match="at least 4"):
        fit_s_curve([2020.0, 2021.0, 2022.0], [0.1, 0.5, 0.8])


def test_two_point_rate_of_the_epr_standard_is_the_closed_form():
    evidence = steepness_evidence().set_index("evidence")
    years = float(np.diff(decimal_year(["2022-06-30", "2026-03-31"]))[0])
    expected = (math.log(0.7 / 0.3) - math.log(0.2038 / 0.7962)) / years
    assert evidence.loc["EPR at NHS England's standard", "rate"] == pytest.approx(expected, rel=1e-12)


def test_a_growth_rate_is_a_lower_bound_on_the_logistic_rate():
    """d ln u / dt = k (1 - u / ceiling) <= k, which is why use growth is reported as a lower bound."""
    t = np.linspace(0, 6, 50)
    for rate in (0.5, 1.0, 3.0):
        u = scipy.special.expit(rate * (t - 3.0))
        growth = np.diff(np.log(u)) / np.diff(t)
        assert (growth <= rate).all()
    evidence = steepness_evidence()
    assert set(evidence[evidence.kind == "lower bound"].evidence) == {
        "NHS App repeat prescriptions",
        "NHS App logins",
    }


def test_default_priors_are_consistent_with_the_delivery_record():
    """The recalibration: same-measure evidence inside each prior's 90% range, lower bounds respected.

    Two rows stay outside on purpose, and the docs say why: the last trusts
    without any EPR (a laggard tail, not the middle of a roll-out) and NHS App
    registrations under the COVID Pass shock (a forcing event the patient
    strand's new features do not have).
    """
    check = uptake_prior_check().set_index("evidence")
    assert check.loc["EPR at NHS England's standard", "verdict"] == "within"
    assert check.loc["GPs using AI scribes", "verdict"] == "within"
    assert (check[check.kind == "lower bound"].verdict == "consistent").all()
    assert check.loc["Any EPR (the last trusts)", "verdict"] == "below the prior's 90% range"
    assert check.loc["NHS App registrations", "verdict"] == "above the prior's 90% range"


def test_the_v1_era_priors_fail_the_same_check():
    """The check has teeth: the priors before the recalibration put the same-measure evidence outside."""
    from nhsrisk.distributions import PERT

    old = load_scenario().with_values(
        {
            "programmes.it_modernisation.uptake_steepness": PERT(1.0, 1.5, 2.5),
            "programmes.staff_technology.do_minimum_steepness": PERT(0.8, 1.2, 2.0),
        }
    )
    check = uptake_prior_check(old).set_index("evidence")
    assert check.loc["EPR at NHS England's standard", "prior_share_below"] == 0.0
    assert check.loc["GPs using AI scribes", "verdict"] == "above the prior's 90% range"


def test_recalibrated_defaults_say_so_in_their_source():
    programmes = load_scenario().programmes
    for programme, key in (
        ("it_modernisation", "uptake_steepness"),
        ("staff_technology", "do_minimum_steepness"),
    ):
        assert "recalibrated against the delivery record" in getattr(programmes[programme], key).source
    # the untraced 38.5m registrations figure is no longer a default's source
    for programme in programmes.values():
        for key in ("uptake_ceiling", "uptake_midpoint"):
            assert "38.5m" not in getattr(programme, key).source


def test_the_docs_table_is_what_the_check_prints():
    """docs/history.md shows uptake_prior_check of the default; this keeps it from going stale."""
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "history.md").read_text(encoding="utf-8")
    for row in uptake_prior_check().itertuples():
        interval = "" if math.isnan(row.low) else f" [{row.low:.2f}, {row.high:.2f}]"
        cells = (
            f"| {row.evidence} | {row.period} | {row.kind} | {row.rate:.2f}{interval} | "
            f"`{row.programme}.{row.parameter}` | {row.prior_5:.2f} to {row.prior_95:.2f} | "
            f"{row.prior_share_below:.0%} | {row.verdict} |"
        )
        assert cells in page, cells


def test_the_priors_figure_draws_each_prior_range_and_rate(figures_closed) -> None:
    import nhsrisk.plot

    check = uptake_prior_check()
    ax = nhsrisk.plot.uptake_priors()
    bars = ax.collections[0].get_segments()
    assert len(bars) == len(check)
    # rows run from the top: the first evidence at the highest y
    for segment, row in zip(bars, check.itertuples(), strict=True):
        (low, _), (high, _) = segment
        assert (low, high) == pytest.approx((row.prior_5, row.prior_95), rel=1e-12)
    points = [line.get_xdata()[0] for line in ax.lines]
    np.testing.assert_allclose(points, check.rate, rtol=1e-12)
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert all(row.verdict in label for row, label in zip(check.itertuples(), labels, strict=True))
    assert ax.get_xlabel() == "Logistic rate of uptake (per year)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "prior, 5-95%",
        "two-point rate",
        "fit (95% CI)",
        "lower bound",
    ]
