"""Quick start: how much of the claimed return arrives, and what ring-fencing the budget is worth.

Run with ``python examples/quickstart.py``. It simulates the default scenario
(Spring Budget 2024), prints the headline numbers with their Monte Carlo
standard errors, and compares the plan with the same plan ring-fenced against
budget raids, using common random numbers (same seed), so the difference
between the two runs is the effect of raids, not noise.
"""

from __future__ import annotations

import numpy as np

import nhsrisk

DRAWS = 200_000
SEED = 2024


def headline(ds, label: str) -> dict[str, float]:
    """Mean cumulative value, probability of reaching the target and mean NPV, with standard errors."""
    final = ds["cumulative_value"].sel(year=ds.attrs["target_year"]).values
    reached = final >= float(ds["claimed_return"])
    npv = ds["npv"].values
    n = final.size
    row = {
        "value_bn": final.mean() / 1e9,
        "value_se_bn": final.std(ddof=1) / np.sqrt(n) / 1e9,
        "p_target": reached.mean(),
        "p_target_se": np.sqrt(reached.mean() * (1 - reached.mean()) / n),
        "npv_bn": npv.mean() / 1e9,
        "npv_se_bn": npv.std(ddof=1) / np.sqrt(n) / 1e9,
    }
    print(
        f"{label:<28} cumulative value GBP {row['value_bn']:.3f}bn (s.e. {row['value_se_bn']:.3f}), "
        f"P(reach target) {row['p_target']:.4f} (s.e. {row['p_target_se']:.4f}), "
        f"NPV GBP {row['npv_bn']:.3f}bn (s.e. {row['npv_se_bn']:.3f})"
    )
    return row


def main() -> None:
    """Run the default scenario and its ring-fenced variant and compare them."""
    scenario = nhsrisk.load_scenario("spring-budget-2024")
    print(scenario)
    plan = nhsrisk.simulate(scenario, draws=DRAWS, seed=SEED)
    ring_fenced = nhsrisk.simulate(
        scenario.with_values(
            {"risks.raid_probability": 0.0},
            source="assumption: decision option, the technology budget is ring-fenced against raids",
        ),
        draws=DRAWS,
        seed=SEED,
    )
    target = float(plan["claimed_return"]) / 1e9
    print(f"\nClaimed return (target): GBP {target:.1f}bn cumulative by {plan.attrs['target_year']}\n")
    headline(plan, "Plan as announced")
    headline(ring_fenced, "Ring-fenced budget")

    # Paired differences: the same draws with and without raids.
    gain = (
        (ring_fenced["cumulative_value"] - plan["cumulative_value"])
        .sel(year=plan.attrs["target_year"])
        .values
    )
    print(
        f"\nValue of ring-fencing: mean GBP {gain.mean() / 1e9:.3f}bn "
        f"(paired s.e. {gain.std(ddof=1) / np.sqrt(gain.size) / 1e9:.4f}), "
        f"positive in {np.mean(gain > 0):.1%} of draws, never negative: {bool(np.all(gain >= -1e-6))}"
    )
    by_programme = plan["value"].sum("year").mean("draw") / 1e9
    print("\nMean value by programme over the five years (GBP bn):")
    for programme, value in zip(by_programme["programme"].values, by_programme.values, strict=True):
        print(f"  {programme:<20} {value:.3f}")
    print(f"\nHours cap binding in {float(plan['hours_capped'].mean()):.2%} of draw-years-groups")


if __name__ == "__main__":
    main()
