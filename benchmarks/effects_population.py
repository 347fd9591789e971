"""What the population segments of issue 15 do to the default scenario's headline figures.

Run from the repository root::

    python -m benchmarks.effects_population [--draws 100000] [--seed 2024]

Every row is the default scenario (``as-announced``) with ONE part of the
segment model undone (the first row: all of it, which is model v2 as merged
before issue 15, bitwise), run with the same seed and number of draws, so that
the rows share common random numbers and differ by the effect of the part, not
by Monte Carlo noise. The effects interact, so they do not add up.

Columns: mean contact-weighted exclusion over the appraisal period (the share
of eligible patient contacts made by people who are digitally excluded), median
cumulative value over the claim window, median BCR, P(BCR < 1), median NPV and
median equity-weighted NPV (Green Book distributional weights). The Markdown
table printed at the end is the one in ``docs/model.md`` ("The effect of the
population segments").
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import numpy as np

import nhsrisk
from benchmarks.effects_v2 import _percent, without_segments

SOURCE = "assumption: one part of the segment model undone, for benchmarks.effects_population"
PATIENTS = "programmes.patient_services.patients"


def equal_exclusion(s):
    """Every segment at the headline exclusion: the contact weighting changes nothing."""
    population = s.population
    flat = dataclasses.replace(
        population.exclusion_profile_by_age, values=(0.25,) * len(population.age_bands)
    )
    s = dataclasses.replace(s, population=dataclasses.replace(population, exclusion_profile_by_age=flat))
    return s.with_values({"population.exclusion_odds_ratio_deprivation": 1.0}, source=SOURCE)


def no_dual_running(s):
    return s.with_values({f"{PATIENTS}.dual_running_cost": 0.0}, source=SOURCE)


def no_induced_demand(s):
    return s.with_values({f"{PATIENTS}.induced_demand_cost": 0.0}, source=SOURCE)


def no_online_dependence(s):
    return s.with_values({f"{PATIENTS}.online_dependent_share": 0.0}, source=SOURCE)


def no_weights(s):
    return s.with_values({"population.inequality_aversion": 0.0}, source=SOURCE)


ROWS = (
    (
        "none",
        "no segments: one population share, no dual running or induced demand (v2 as merged)",
        without_segments,
    ),
    (
        "contact weighting",
        "segments kept, but the same exclusion in every segment (flat profile, odds ratio 1)",
        equal_exclusion,
    ),
    ("dual running", "no cost of keeping non-digital routes open (`dual_running_cost` = 0)", no_dual_running),
    ("induced demand", "no demand added by digital access (`induced_demand_cost` = 0)", no_induced_demand),
    (
        "online-dependent savings",
        "no staff or cash savings need patients online (`online_dependent_share` = 0)",
        no_online_dependence,
    ),
    ("weights", "no distributional weights (`inequality_aversion` = 0)", no_weights),
)


def cells(ds) -> list[str]:
    """Markdown cells of one run."""
    claim = ds["cumulative_value"].sel(year=ds.attrs["target_year"]).values
    bcr, npv = ds["bcr"].values, ds["npv"].values
    weighted = ds["npv_distributional"].values if "npv_distributional" in ds else npv
    exclusion = ds["contact_weighted_exclusion"].mean().item() if "contact_weighted_exclusion" in ds else None
    if exclusion is None:
        exclusion = float(ds["risks.digital_exclusion"].mean())
    return [
        f"{exclusion:.3f}",
        f"{np.median(claim) / 1e9:.2f}",
        f"{np.median(bcr):.3f}",
        _percent(float(np.mean(bcr < 1.0))),
        f"{np.median(npv) / 1e9:.3f}",
        f"{np.median(weighted) / 1e9:.3f}",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run every row and print the Markdown table."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.effects_population", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--draws", type=int, default=20_000, help="draws per row (default 20,000)")
    parser.add_argument("--seed", type=int, default=2024, help="seed shared by every row (default 2024)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    scenario = nhsrisk.load_scenario()
    lines = [
        "| undone (everything else as in the default) | contact-weighted exclusion, mean "
        "| claim-window value, median (GBP bn) | BCR, median | P(BCR < 1) | NPV, median (GBP bn) "
        "| NPV equity-weighted, median (GBP bn) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = nhsrisk.simulate(scenario, draws=args.draws, seed=args.seed, progress=False)
    lines.append("| nothing: the default scenario, as-announced | " + " | ".join(cells(base)) + " |")
    del base
    for _, label, variant in ROWS:
        ds = nhsrisk.simulate(variant(scenario), draws=args.draws, seed=args.seed, progress=False)
        lines.append(f"| {label} | " + " | ".join(cells(ds)) + " |")
        del ds
        print(f"  done: {label} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    print(f"Default scenario {scenario.name}, {args.draws:,} draws, seed {args.seed}.\n")
    print("\n".join(lines))
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
