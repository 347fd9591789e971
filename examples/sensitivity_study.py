"""Sensitivity study of the default scenario: what drives the shortfall, and what knowing it is worth.

Run with ``python examples/sensitivity_study.py`` (about a minute on two cores).

1. Simulate the default scenario (``as-announced``) and summarise the
   cumulative value delivered over the claim window against the claimed
   return, with Monte Carlo error bars.
2. Rank the inputs that drive the shortfall against that claim: Sobol' total
   indices (variance-based, all interactions included) from a Saltelli design
   of 2^12 base samples, with a tornado and partial rank correlations as
   cross-checks. Inputs linked by the scenario's rank correlations (the
   strands' cost overruns and delivery delays) form one factor.
3. Put a value on learning more about the three leading inputs. The decision
   is between three of the named scenarios shipped with nhsrisk: the plan as
   announced, ``ring-fenced`` (the budget protected from raids) and
   ``plus-digital-inclusion`` (a £50m programme that brings digitally
   excluded people online). The net benefit of each option is its NPV over
   the appraisal period in GBP, with common random numbers; the expected value
   of perfect information (EVPI) and of partial perfect information on each
   input (EVPPI) say how much better the choice could be made by resolving
   that uncertainty first.
"""

from __future__ import annotations

import xarray as xr

import nhsrisk
from nhsrisk.sensitivity import prcc

DRAWS = 100_000
BASE_SAMPLES = 2**12
SEED = 2024
OUTPUT = "cumulative_value"  # read in the target year: the shortfall is claimed return minus this


OPTIONS = {
    "as announced": "as-announced",
    "ring-fenced": "ring-fenced",
    "digital inclusion": "plus-digital-inclusion",
}


def members(name: str, scenario: nhsrisk.Scenario) -> list[str]:
    """Return the inputs of a Sobol' factor: itself, or every member of a ``"correlated: ..."`` group."""
    if not name.startswith("correlated: "):
        return [name]
    found = []
    for member in name.removeprefix("correlated: ").split(" & "):
        if member.startswith("programmes.*."):
            field = member.removeprefix("programmes.*.")
            found += [f"programmes.{pid}.{field}" for pid in scenario.programmes]
        else:
            found.append(member)
    return found


def parameters_of(name: str, options: xr.Dataset, scenario: nhsrisk.Scenario) -> list[xr.DataArray]:
    """Return the per-draw values of a factor in the first option (one array a year if per-year)."""
    arrays = []
    for member in members(name, scenario):
        if member == "risks.raid_event":
            raids = options["raid"].isel(option=0).astype(float)
            # one indicator a year, in the years a raid can happen (those with money to spend)
            arrays += [
                raids.sel(year=year) for year in raids["year"].values if raids.sel(year=year).std() > 0
            ]
            continue
        values = options[member]
        if "year" in values.dims:
            arrays += [values.sel(year=year) for year in values["year"].values]
        else:
            arrays.append(values)
    return arrays


def label(name: str) -> str:
    """Return a factor's name as one word (a correlated group's name has spaces)."""
    return name.replace("correlated: ", "correlated:").replace(" & ", "&")


def main() -> None:
    """Run the study and print its findings."""
    scenario = nhsrisk.load_scenario()  # the default, "as-announced"
    target_year = scenario.target_year
    claimed = scenario.target.claimed_return.distribution.mean()

    print(f"1. Simulating {DRAWS:,} draws of {scenario.name}\n")
    ds = nhsrisk.simulate(scenario, draws=DRAWS, seed=SEED)
    print(ds.nhsrisk.summary())
    shortfall = claimed - ds[OUTPUT].sel(year=target_year)
    print(
        f"\nMean shortfall against the claimed GBP {claimed / 1e9:.1f}bn by {target_year}: "
        f"GBP {float(shortfall.mean()) / 1e9:.2f}bn\n"
    )

    print(f"2. Sobol' indices of the cumulative value by {target_year} ({BASE_SAMPLES} base samples)\n")
    indices = nhsrisk.sobol_analysis(scenario, OUTPUT, base_samples=BASE_SAMPLES, seed=SEED)
    top = indices.isel(input=slice(0, 3))
    for name in top["input"].values:
        row = indices.sel(input=name)
        print(
            f"  {label(str(name)):<55} total {float(row['ST']):.3f} "
            f"[{float(row['ST_conf_low']):.3f}, {float(row['ST_conf_high']):.3f}]  "
            f"first order {float(row['S1']):.3f}"
        )
    print(f"  (sum of first-order indices {float(indices['S1'].sum()):.3f}; the rest is interaction)\n")

    swings = nhsrisk.tornado(scenario, OUTPUT)
    print("  Tornado (each input at its 10th and 90th percentile), the largest swings:")
    for name in swings["input"].values[:5]:
        print(f"    {name:<55} swing GBP {float(swings['swing'].sel(input=name)) / 1e9:.3f}bn")
    ranks = prcc(ds, OUTPUT)
    print("  Partial rank correlations with the cumulative value, the largest:")
    for name in ranks["input"].values[:5]:
        print(f"    {name:<55} {float(ranks['prcc'].sel(input=name)):+.3f}")

    print("\n3. Value of information for the choice between three options (net benefit = NPV)\n")
    options = nhsrisk.compare_options(OPTIONS, draws=DRAWS, seed=SEED, outputs=("npv", "raid"))
    perfect = nhsrisk.evpi(options["npv"])
    for option in perfect["option"].values:
        expected = float(perfect["expected_net_benefit"].sel(option=option)) / 1e9
        best = float(perfect["probability_best"].sel(option=option))
        print(f"  {option:<18} expected NPV GBP {expected:+.3f}bn, best in {best:.1%} of draws")
    print(
        f"  EVPI: GBP {float(perfect['evpi']) / 1e6:.2f}m "
        f"(s.e. {float(perfect['evpi_mcse']) / 1e6:.2f}m) for the whole decision"
    )
    print("  The three inputs that drive the shortfall:")
    for name in top["input"].values:
        report_evppi(str(name), options, scenario)
    # The decision turns on the patient channel, which the digital-inclusion option changes:
    print("  Inputs of the digital-inclusion case, for comparison:")
    for name in DECISION_INPUTS:
        report_evppi(name, options, scenario)


DECISION_INPUTS = (
    "risks.digital_exclusion",
    "programmes.patient_services.patients.value_per_contact",
    "programmes.patient_services.uptake_ceiling",
)


def report_evppi(name: str, options: xr.Dataset, scenario: nhsrisk.Scenario) -> None:
    """Print the EVPPI of one input (or factor) for the decision in ``options``, in GBP million."""
    partial = nhsrisk.evppi(options["npv"], parameters_of(name, options, scenario))
    print(
        f"    {label(name):<55} EVPPI GBP {float(partial['evppi']) / 1e6:5.2f}m "
        f"(s.e. {float(partial['evppi_mcse']) / 1e6:.2f}m), {float(partial['evppi_share']):4.0%} of EVPI"
    )


if __name__ == "__main__":
    main()
