"""Quick start: how much of the claimed return arrives, is it good value, and what a cut or a ring fence does.

Run with ``python examples/quickstart.py``. It simulates the default scenario
(``as-announced``: the Spring Budget 2024 technology capital as announced) and
two of the named scenarios shipped beside it (``nhsrisk scenarios``):
``ring-fenced`` (no budget raids) and ``after-the-cut`` (a repeat of the
£325m cut to frontline digitisation). It prints both horizons of each: the
claim test over the claim window (cumulative value against the claimed
return) and the appraisal over the Green Book appraisal period (NPV and BCR).
Every run uses the same seed, so draw ``i`` is the same future in every
scenario (common random numbers) and the paired differences are the effect of
the change, not noise.
"""

from __future__ import annotations

import numpy as np

import nhsrisk

DRAWS = 200_000
SEED = 2024


def headline(ds, label: str) -> None:
    """Print the claim test and the appraisal of one run, with Monte Carlo standard errors."""
    final = ds["cumulative_value"].sel(year=ds.attrs["target_year"]).values
    reached = final >= float(ds["claimed_return"])
    npv, bcr = ds["npv"].values, ds["bcr"].values
    n = final.size

    def se(x: np.ndarray) -> float:
        return float(x.std(ddof=1) / np.sqrt(n))

    print(
        f"{label:<20} claim window: mean value GBP {final.mean() / 1e9:.3f}bn (s.e. {se(final) / 1e9:.3f}), "
        f"P(reach target) {reached.mean():.4f}"
    )
    print(
        f"{'':<20} appraisal:    mean NPV GBP {npv.mean() / 1e9:+.3f}bn (s.e. {se(npv) / 1e9:.3f}), "
        f"median BCR {np.median(bcr):.2f}, P(BCR < 1) {np.mean(bcr < 1):.3f}"
    )


def paired(a, b, output: str, year: str | None = None) -> np.ndarray:
    """Draw-by-draw difference ``b - a`` of an output (read at ``year`` if it has years)."""
    difference = b[output] - a[output]
    return (difference.sel(year=year) if year is not None else difference).values


def main() -> None:
    """Run the default scenario, its ring-fenced variant and the cut, and compare them."""
    scenario = nhsrisk.load_scenario()  # the default, "as-announced"
    print(scenario)
    runs = {
        name: nhsrisk.simulate(name, draws=DRAWS, seed=SEED)
        for name in ("as-announced", "ring-fenced", "after-the-cut")
    }
    plan = runs["as-announced"]
    target_year = plan.attrs["target_year"]
    print(
        f"\nClaim window {plan.attrs['claim_window']}: claimed return GBP "
        f"{float(plan['claimed_return']) / 1e9:.1f}bn cumulative by {target_year}"
    )
    print(f"Appraisal period {plan.attrs['appraisal_period']}: NPV and BCR, Green Book discounting\n")
    headline(plan, "As announced")
    headline(runs["ring-fenced"], "Ring-fenced budget")
    headline(runs["after-the-cut"], "After the cut")

    # Paired differences: the same futures with and without raids.
    gain = paired(plan, runs["ring-fenced"], "cumulative_value", target_year)
    npv_gain = paired(plan, runs["ring-fenced"], "npv")
    print(
        f"\nValue of ring-fencing by {target_year}: mean GBP {gain.mean() / 1e9:.3f}bn "
        f"(paired s.e. {gain.std(ddof=1) / np.sqrt(gain.size) / 1e9:.4f}), "
        f"positive in {np.mean(gain > 0):.1%} of draws, never negative: {bool(np.all(gain >= -1e-6))}; "
        f"its effect on NPV: mean GBP {npv_gain.mean() / 1e9:+.3f}bn (the protected money is also spent)"
    )

    # The cut: value lost per pound taken from the announced plan.
    cut = -nhsrisk.load_scenario("after-the-cut").total_budget_change  # GBP cash
    lost = -paired(plan, runs["after-the-cut"], "cumulative_value", target_year)
    lost_ten = -paired(plan, runs["after-the-cut"], "cumulative_value", plan["year"].values[-1])
    print(
        f"Cost of the GBP {cut / 1e6:.0f}m cut: mean GBP {lost.mean() / 1e6:.0f}m of value by {target_year} "
        f"({lost.mean() / cut:.2f} per GBP cut), GBP {lost_ten.mean() / 1e6:.0f}m over the appraisal period"
    )

    claim_years = list(plan["year"].values[: list(plan["year"].values).index(target_year) + 1])
    by_programme = plan["value"].sel(year=claim_years).sum("year").mean("draw") / 1e9
    print(f"\nMean value by programme over the claim window {plan.attrs['claim_window']} (GBP bn):")
    for programme, value in zip(by_programme["programme"].values, by_programme.values, strict=True):
        print(f"  {programme:<20} {value:.3f}")
    print(f"\nHours cap binding in {float(plan['hours_capped'].mean()):.2%} of draw-years-groups")


if __name__ == "__main__":
    main()
