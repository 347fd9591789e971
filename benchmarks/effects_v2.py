"""What each change of model v2 does to the default scenario's headline figures (issue 12, items 1-5).

Run from the repository root::

    python -m benchmarks.effects_v2 [--draws 100000] [--seed 2024] [--no-v1]

Every row is the default scenario (``as-announced``) with ONE change of model v2
undone, run with the same seed and number of draws, so that all rows share
common random numbers: the difference between a row and the first row is the
effect of that change, not Monte Carlo noise. The effects are not additive (the
changes interact), and the last row is model v1 itself on its own default
scenario, for the v1 -> v2 total.

A change is undone in one of three ways, said in the row:

- **inputs**: the change can be expressed by the scenario's inputs
  (:meth:`nhsrisk.Scenario.with_values`), and ``nhsrisk.simulate`` runs the
  variant. Reading uptake at the start of each year, for example, is the same
  as reading it at mid-year with every midpoint 0.5 years later (exact while a
  programme is supported).
- **re-evaluated**: the change is in the equations (per-year adequacy,
  underruns banked, one portfolio draw of the delivery risks). These rows
  re-evaluate the default run's own draws in NumPy with the other rule
  (:func:`reevaluate`). With the v2 rule the re-evaluation reproduces the
  kernel's uptake and benefits draw by draw (the script prints the largest
  differences); it is exact while no staff-group cap binds (it never does in the
  default) and no programme is a digital-inclusion programme.
- **v1**: model v1 at commit 58e49aa (a worktree beside this checkout,
  ``git worktree add ../v1 58e49aa``, or ``--v1-path``) in a subprocess, on its
  own default scenario.

The rows describe model v2 as it was merged (commit 0a168bc), before the
population segments of issue 15: every run uses :func:`without_segments` of the
default scenario (no ``[population]`` table and none of the patient channel's
exclusion-dependent lines), which gives the results of that commit bitwise.
``python -m benchmarks.effects_population`` measures what the segments add.

Outputs per row: median cumulative value over the claim window (2025/26 to
2029/30), P(reaching the claimed £7bn), median appraisal-period BCR, P(BCR < 1)
and median NPV. The Markdown table printed at the end is the one in
``docs/model.md`` ("What changed from v1 and why").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import nhsrisk
from nhsrisk._plan import build_plan
from nhsrisk.distributions import PERT, Discrete, Distribution, Fixed, LogNormal, Triangular, Uniform

V1_COMMIT = "58e49aa"
V1_SOURCE = "assumption: v1 value (model v1, commit 58e49aa), for benchmarks.effects_v2"

# ---------------------------------------------------------------------------------
# Headline figures
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """The five headline figures of one run."""

    claim_value: float  # median cumulative value over the claim window [GBP]
    p_claim: float  # P(cumulative value >= claimed return)
    bcr: float  # median BCR over the appraisal period
    p_bcr_below_1: float
    npv: float  # median NPV over the appraisal period [GBP]

    @classmethod
    def of(cls, claim_value: np.ndarray, claimed: float, bcr: np.ndarray, npv: np.ndarray) -> Headline:
        """Headline of arrays of draws."""
        return cls(
            float(np.median(claim_value)),
            float(np.mean(claim_value >= claimed)),
            float(np.median(bcr)),
            float(np.mean(bcr < 1.0)),
            float(np.median(npv)),
        )

    def cells(self) -> list[str]:
        """Markdown cells: GBP bn to 2 decimals, probabilities in per cent."""
        return [
            f"{self.claim_value / 1e9:.2f}",
            _percent(self.p_claim),
            f"{self.bcr:.2f}",
            _percent(self.p_bcr_below_1),
            f"{self.npv / 1e9:.2f}",
        ]


def _percent(p: float) -> str:
    """Per cent to 0.1, with more digits near 0 and 1 so that neither is shown unless exact."""
    if p in (0.0, 1.0):
        return f"{100 * p:.0f}%"
    digits = 1 if 0.001 <= p <= 0.999 else 3
    return f"{100 * p:.{digits}f}%"


def headline_of_run(ds) -> Headline:
    """Headline of an ``nhsrisk.simulate`` Dataset."""
    claim = ds["cumulative_value"].sel(year=ds.attrs["target_year"]).values
    claimed = float(np.asarray(ds["claimed_return"]))
    return Headline.of(claim, claimed, ds["bcr"].values, ds["npv"].values)


def without_segments(s):
    """The scenario as model v2 had it: no population table, no exclusion-dependent patient lines."""
    programmes = {}
    for pid, programme in s.programmes.items():
        patients = programme.patients
        if patients is not None:
            patients = dataclasses.replace(
                patients, online_dependent_share=None, dual_running_cost=None, induced_demand_cost=None
            )
        inclusion = programme.inclusion
        if inclusion is not None:
            inclusion = dataclasses.replace(inclusion, target_age_bands=None, target_quintiles=None)
        programmes[pid] = dataclasses.replace(programme, patients=patients, inclusion=inclusion)
    return dataclasses.replace(s, population=None, programmes=programmes)


# ---------------------------------------------------------------------------------
# Variants expressed by inputs
# ---------------------------------------------------------------------------------


def shifted(dist: Distribution, years: float) -> Distribution:
    """``dist`` moved later by ``years``: the same quantile function plus a constant.

    Inversion sampling gives every draw the same uniform as before, so each
    draw's value moves by exactly ``years`` (common random numbers).
    """
    if isinstance(dist, PERT):
        return PERT(dist.low + years, dist.mode + years, dist.high + years, dist.lam)
    if isinstance(dist, Triangular):
        return Triangular(dist.low + years, dist.mode + years, dist.high + years)
    if isinstance(dist, Uniform):
        return Uniform(dist.low + years, dist.high + years)
    if isinstance(dist, Fixed):
        return Fixed(dist.value + years)
    if isinstance(dist, Discrete):
        return Discrete(tuple(v + years for v in dist.values), dist.probabilities)
    raise TypeError(
        "The 'dist' parameter of shifted must be PERT, Triangular, Uniform, Fixed or Discrete. "
        f"Got {dist!r} instead."
    )


def _programme_values(scenario, key: str, make: Callable[[str, object], object]) -> dict[str, object]:
    return {
        f"programmes.{pid}.{key}": make(pid, getattr(programme, key).distribution)
        for pid, programme in scenario.programmes.items()
    }


def start_of_year_uptake(s):
    """v1's timing: uptake read on the first day of the year, i.e. every midpoint half a year later."""
    values = {
        **_programme_values(s, "uptake_midpoint", lambda _, d: shifted(d, 0.5)),
        **_programme_values(s, "do_minimum_midpoint", lambda _, d: shifted(d, 0.5)),
    }
    return s.with_values(values, source=V1_SOURCE)


def no_counterfactual(s):
    """No do-minimum path: every benefit is credited to the investment."""
    return s.with_values(_programme_values(s, "do_minimum_ceiling", lambda *_: 0.0), source=V1_SOURCE)


def no_running_costs(s):
    """Running costs not counted (v1), support and decay as in v2."""
    return s.with_values(_programme_values(s, "running_cost", lambda *_: 0.0), source=V1_SOURCE)


def v1_decay_structure(s):
    """v1's structure: no running costs, benefits decay from the year after the last capital."""
    values = {
        **_programme_values(s, "running_cost", lambda *_: 0.0),
        **_programme_values(s, "support_years", lambda *_: 0.0),
    }
    return s.with_values(values, source=V1_SOURCE)


def maintained_for_free(s):
    """Every system kept to the end of the period at no running cost: no decay, no cost."""
    values = {
        **_programme_values(s, "running_cost", lambda *_: 0.0),
        **_programme_values(s, "support_years", lambda *_: float(len(s.years))),
    }
    return s.with_values(values, source=V1_SOURCE)


def no_non_staff_savings(s):
    """No cash lines of their own: v1 labelled a share of value as cash and added nothing."""
    return s.with_values(_programme_values(s, "non_staff_savings", lambda *_: 0.0), source=V1_SOURCE)


def cash_prices(s):
    """Spend left in cash (v1): a flat deflator."""
    deflator = s.deflator.to_dict()
    deflator["index"] = [100.0] * len(deflator["years"])
    deflator["source"] = V1_SOURCE + ": flat index, spend in cash as v1 had it"
    return s.with_values({"deflator": deflator}, source=V1_SOURCE)


def _first_years(s, n: int, residual: bool) -> dict[str, object]:
    values: dict[str, object] = {"years": list(s.years[:n])}
    for pid, programme in s.programmes.items():
        values[f"programmes.{pid}.spend"] = list(programme.spend.values[:n])
        if not residual:
            values[f"programmes.{pid}.residual_life"] = 0.0
    return values


def five_year_appraisal(s):
    """v1's horizon: NPV and BCR over the claim window (5 years), no residual value."""
    return s.with_values(_first_years(s, len(s.claim_years), residual=False), source=V1_SOURCE)


def no_residual_value(s):
    """Ten years, but nothing counted after the appraisal period."""
    return s.with_values(_first_years(s, len(s.years), residual=False), source=V1_SOURCE)


def perfectly_correlated_risks(s):
    """Overruns, and delays, rank-correlated 1 across programmes (black swans stay independent)."""
    inputs = list(s.correlations.inputs)
    kinds = [name.rsplit(".", 1)[1] for name in inputs]
    matrix = [
        [1.0 if a == b else 0.5 for b in kinds] for a in kinds
    ]  # within a kind 1; across kinds the default's within-strand 0.5
    return s.with_correlations(inputs, matrix, source=V1_SOURCE + ": one draw for the portfolio")


# Item 5: defaults back to their v1 values, one at a time.

V1_REALISATION_LAG = {  # PERT(min, mode, max) of v1's realisation_lag by programme
    "it_modernisation": (0.0, 0.5, 1.0),
    "staff_technology": (0.25, 0.5, 1.0),
    "patient_services": (0.0, 0.25, 0.5),
}
V1_DECAY = {
    "it_modernisation": PERT(0.05, 0.10, 0.20),
    "staff_technology": PERT(0.05, 0.10, 0.25),
    "patient_services": PERT(0.02, 0.05, 0.15),
}


def _without_correlated(s, names: set[str]):
    """The correlations table without ``names`` (discrete inputs cannot be rank-correlated)."""
    keep = [i for i, name in enumerate(s.correlations.inputs) if name not in names]
    matrix = s.correlations.as_array()[np.ix_(keep, keep)]
    return s.with_correlations([s.correlations.inputs[i] for i in keep], matrix, source=s.correlations.source)


def v1_delay_and_lag(s):
    """Delay {0, 1, 2} years (p 0.4/0.4/0.2) stacked on each midpoint plus v1's realisation lag."""
    delays = {f"programmes.{pid}.delivery_delay" for pid in s.programmes}
    s = _without_correlated(s, delays)
    values: dict[str, object] = {name: Discrete((0.0, 1.0, 2.0), (0.4, 0.4, 0.2)) for name in sorted(delays)}
    for pid, programme in s.programmes.items():
        m = programme.uptake_midpoint.distribution
        low, mode, high = V1_REALISATION_LAG[pid]
        # PERT parameters added: the mean is exactly midpoint + lag, the spread a little wider than the sum's
        values[f"programmes.{pid}.uptake_midpoint"] = PERT(m.low + low, m.mode + mode, m.high + high, m.lam)
    return s.with_values(values, source=V1_SOURCE)


def v1_overrun_body(s):
    """Ordinary-project overrun with median 0.89 (v1: lognormal mu -0.11936, sigma 0.25)."""
    return s.with_values(
        _programme_values(s, "cost_overrun", lambda *_: LogNormal(-0.11936, 0.25)), source=V1_SOURCE
    )


def v1_released_time_used(s):
    """Released time put to use PERT(0.3, 0.5, 0.8) (v1's redeployment_fraction)."""
    return s.with_values({"risks.released_time_used": PERT(0.3, 0.5, 0.8)}, source=V1_SOURCE)


def v1_staff_technology(s):
    """Staff-technology ceiling PERT(0.3, 0.5, 0.8) and midpoint PERT(2.0, 2.5, 3.5)."""
    return s.with_values(
        {
            "programmes.staff_technology.uptake_ceiling": PERT(0.3, 0.5, 0.8),
            "programmes.staff_technology.uptake_midpoint": PERT(2.0, 2.5, 3.5),
        },
        source=V1_SOURCE,
    )


def v1_patient_strand(s):
    """Patient strand midpoint PERT(1.5, 2.5, 3.5) and value per contact PERT(1, 3, 8)."""
    return s.with_values(
        {
            "programmes.patient_services.uptake_midpoint": PERT(1.5, 2.5, 3.5),
            "programmes.patient_services.patients.value_per_contact": PERT(1.0, 3.0, 8.0),
        },
        source=V1_SOURCE,
    )


def v1_gp_cost(s):
    """GP cost per hour PERT(118, 161, 178): mode £161, which includes direct-care staff."""
    return s.with_values({"staff_groups.gp.cost_per_hour": PERT(118.0, 161.0, 178.0)}, source=V1_SOURCE)


def v1_doctor_share(s):
    """Hospital doctors' IT share PERT(0.01, 0.02, 0.06): v1 read the 13m hours as doctors' and nurses'."""
    key = "programmes.it_modernisation.staff.hospital_doctor.addressable_share"
    return s.with_values({key: PERT(0.01, 0.02, 0.06)}, source=V1_SOURCE)


def v1_raids(s):
    """Raid probability PERT(0.1, 0.25, 0.5) and fraction Uniform(0.2, 0.6)."""
    return s.with_values(
        {"risks.raid_probability": PERT(0.10, 0.25, 0.50), "risks.raid_fraction": Uniform(0.20, 0.60)},
        source=V1_SOURCE,
    )


def v1_decay_rates(s):
    """Benefit decay rates of v1 (5-12% a year), applied after support ends as v2 does."""
    return s.with_values(
        _programme_values(s, "benefit_decay", lambda pid, _: V1_DECAY[pid]), source=V1_SOURCE
    )


ITEM5 = (
    v1_delay_and_lag,
    v1_overrun_body,
    v1_released_time_used,
    v1_staff_technology,
    v1_patient_strand,
    v1_gp_cost,
    v1_doctor_share,
    v1_raids,
    v1_decay_rates,
)


def all_item5(s):
    """Every recalibration of item 5 back to v1 at once."""
    for change in ITEM5:
        s = change(s)
    return s


CUT = {
    "programme": "it_modernisation",
    "year": "2026/27",
    "amount": -3.25e8,
    "source": "assumption: the after-the-cut scenario's £325m (cash) cut to the IT strand in 2026/27",
}


def with_the_cut(s):
    """The after-the-cut change: £325m cut from the IT strand in 2026/27, as a budget change."""
    return s.with_values({"budget_changes": [CUT]}, source=V1_SOURCE)


def cut_by_editing_spend(s):
    """The same £325m taken out of the announced plan itself (the only way v1 had)."""
    spend = list(s.programmes[CUT["programme"]].spend.values)
    spend[s.years.index(CUT["year"])] += CUT["amount"]
    return s.with_values({f"programmes.{CUT['programme']}.spend": spend}, source=V1_SOURCE)


# ---------------------------------------------------------------------------------
# Variants in the equations: re-evaluation of the default run's draws
# ---------------------------------------------------------------------------------


def _logistic(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _input(ds, scenario, key: str) -> np.ndarray:
    """Draws of an input: from the run, or the scenario's value when it is fixed (not stored)."""
    if key in ds:
        return np.asarray(ds[key].values, dtype=float)
    quantity = scenario.quantities()[key]
    return np.full(ds.sizes["draw"], float(quantity.distribution.mean()))


def reevaluate(ds, scenario, *, adequacy: str = "v2", shared_risks: bool = False) -> dict[str, np.ndarray]:
    """Re-evaluate uptake, benefits, NPV and BCR of a run's draws with another adequacy rule.

    Parameters
    ----------
    ds : xarray.Dataset
        ``nhsrisk.simulate(scenario, ...)`` with its inputs kept.
    scenario : Scenario
        The scenario of the run (no digital-inclusion programme).
    adequacy : {"v2", "whole-period", "credit-underruns", "v1"}
        ``"v2"``: money received to date over money needed to date, the need at
        least the plan (underruns banked). ``"whole-period"``: one adequacy for
        every year from the totals, underruns banked. ``"credit-underruns"``:
        per year, but an overrun factor below 1 lowers the need. ``"v1"``: one
        adequacy from the totals with underruns credited (model v1).
    shared_risks : bool
        Use the first programme's cost overrun, black swan, black-swan overrun
        and delivery delay for every programme (v1's one portfolio draw).

    Returns
    -------
    dict
        ``uptake``, ``value`` and ``running_cost`` (draw, year, programme);
        ``claim_value``, ``bcr`` and ``npv`` (draw,). Capital spent is the
        run's: the rules changed here do not touch it.
    """
    if any(p.inclusion is not None for p in scenario.programmes.values()):
        raise ValueError("The 'scenario' parameter of reevaluate must have no inclusion programme.")
    plan = build_plan(scenario)
    n = ds.sizes["draw"]
    years = scenario.years
    n_year = len(years)
    pids = list(scenario.programmes)
    spend = ds["spend"].transpose("draw", "year", "programme").values
    t = np.arange(n_year, dtype=float)
    capacity = _input(ds, scenario, "risks.staff_capacity")
    elasticity = _input(ds, scenario, "risks.funding_elasticity")
    used = _input(ds, scenario, "risks.released_time_used")
    leakage = _input(ds, scenario, "risks.social_care_leakage")
    excluded = _input(ds, scenario, "risks.digital_exclusion")
    uptake = np.empty((n, n_year, len(pids)))
    value = np.empty_like(uptake)
    cost = np.empty_like(uptake)
    for p, pid in enumerate(pids):
        programme = scenario.programmes[pid]
        risk_owner = pids[0] if shared_risks else pid

        def get(name: str, owner: str = pid) -> np.ndarray:
            return _input(ds, scenario, f"programmes.{owner}.{name}")

        swan = get("black_swan", risk_owner) > 0.5
        overrun = np.where(swan, get("black_swan_overrun", risk_owner), get("cost_overrun", risk_owner))
        delay = get("delivery_delay", risk_owner)
        need_factor = overrun if adequacy in ("credit-underruns", "v1") else np.maximum(1.0, overrun)
        planned = plan.planned_spend[p]
        needed = np.cumsum(planned)
        received = np.cumsum(spend[:, :, p], axis=1)
        if adequacy in ("whole-period", "v1"):
            needed = np.full(n_year, needed[-1])
            received = np.repeat(received[:, -1:], n_year, axis=1)
        need = needed[None, :] * need_factor[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(need > 0.0, np.minimum(1.0, received / need), 1.0)
            factor = np.where(ratio > 0.0, ratio ** elasticity[:, None], 0.0)
        level_max = get("uptake_ceiling")[:, None] * capacity[:, None] * factor
        shift = get("uptake_midpoint") + delay
        steep = get("uptake_steepness")
        end = plan.last_funded[p] + 1 + np.floor(np.minimum(get("support_years"), float(n_year)))
        supported = level_max * _logistic((t[None, :] + 0.5 - shift[:, None]) * steep[:, None])
        last = np.clip(end.astype(int) - 1, 0, n_year - 1)
        reached = level_max[np.arange(n), last] * _logistic((end - shift) * steep)
        after = t[None, :] + 0.5 - end[:, None]
        decayed = reached[:, None] * (1.0 - get("benefit_decay")[:, None]) ** np.maximum(after, 0.0)
        u = np.where(t[None, :] < end[:, None], supported, decayed)
        base = get("do_minimum_ceiling")[:, None] * _logistic(
            (t[None, :] + 0.5 - get("do_minimum_midpoint")[:, None]) * get("do_minimum_steepness")[:, None]
        )
        additional = np.maximum(u - base, 0.0)
        # running cost while supported: capital in use (half of this year's), the additional share of it
        capital = np.cumsum(spend[:, :, p], axis=1)
        in_use = capital - 0.5 * spend[:, :, p]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(u > base, (u - base) / u, np.where(base > 0.0, 0.0, 1.0))
        cost[:, :, p] = np.where(
            t[None, :] < end[:, None], get("running_cost")[:, None] * in_use * share, 0.0
        )
        # value of the programme at full additional uptake (no staff-group cap binds)
        kept = 1.0 - get("social_care_share") * leakage
        time_value = np.zeros(n)
        for gid in programme.staff:
            group = f"staff_groups.{gid}"
            time_value += (
                _input(ds, scenario, f"{group}.fte")
                * _input(ds, scenario, f"{group}.hours_per_fte")
                * _input(ds, scenario, f"{group}.cost_per_hour")
                * get(f"staff.{gid}.addressable_share")
                * get(f"staff.{gid}.recovered_fraction")
            )
        full = time_value * used * kept + get("non_staff_savings")
        if programme.patients is not None:
            full += (
                get("patients.contacts_per_year")
                * (1.0 - excluded)
                * get("patients.value_per_contact")
                * kept
            )
        uptake[:, :, p] = u
        value[:, :, p] = additional * full[:, None]
    claim = value[:, : len(scenario.claim_years)].sum(axis=(1, 2))
    discount = plan.discount_factor[None, :, None]
    residual = (np.maximum(value[:, -1] - cost[:, -1], 0.0) * plan.residual_annuity[None, :]).sum(axis=1)
    benefits = (value * discount).sum(axis=(1, 2)) + residual
    costs = ds["pv_capital_cost"].values + (cost * discount).sum(axis=(1, 2))
    bcr = np.where(costs > 0.0, benefits / np.where(costs > 0.0, costs, 1.0), 0.0)
    return {
        "uptake": uptake,
        "value": value,
        "running_cost": cost,
        "claim_value": claim,
        "bcr": bcr,
        "npv": benefits - costs,
    }


def reproduction_error(ds, replay: dict[str, np.ndarray]) -> dict[str, float]:
    """Largest differences between the kernel's run and its re-evaluation with the v2 rule."""
    errors = {}
    for name in ("uptake", "value", "running_cost"):
        kernel = ds[name].transpose("draw", "year", "programme").values
        scale = max(float(np.abs(kernel).max()), 1.0)
        errors[f"{name} (relative to the largest)"] = float(np.abs(replay[name] - kernel).max() / scale)
    errors["bcr (absolute)"] = float(np.abs(replay["bcr"] - ds["bcr"].values).max())
    scale = float(np.abs(ds["npv"].values).max())
    errors["npv (relative to the largest)"] = float(np.abs(replay["npv"] - ds["npv"].values).max() / scale)
    return errors


# ---------------------------------------------------------------------------------
# Model v1 in a subprocess
# ---------------------------------------------------------------------------------

_V1_SCRIPT = """
import json, sys
import numpy as np
import nhsrisk
ds = nhsrisk.simulate("spring-budget-2024", draws=int(sys.argv[1]), seed=int(sys.argv[2]))
claim = ds["cumulative_value"].sel(year=ds.attrs["target_year"]).values
print(json.dumps({"claim": claim.tolist(), "claimed": float(np.asarray(ds["claimed_return"])),
                  "bcr": ds["bcr"].values.tolist(), "npv": ds["npv"].values.tolist(),
                  "file": nhsrisk.__file__}))
"""


def v1_headline(path: Path, draws: int, seed: int) -> Headline:
    """Model v1's own headline on its default scenario, run from the checkout at ``path``."""
    cache = Path(tempfile.gettempdir()) / "nhsrisk-v1-numba-cache"
    env = {**os.environ, "PYTHONPATH": str(path), "NUMBA_CACHE_DIR": str(cache)}
    result = subprocess.run(
        [sys.executable, "-c", _V1_SCRIPT, str(draws), str(seed)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
        check=True,
    )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    if not Path(out["file"]).resolve().is_relative_to(path.resolve()):
        raise RuntimeError(f"model v1 was not imported from {path}: got {out['file']}")
    return Headline.of(np.array(out["claim"]), out["claimed"], np.array(out["bcr"]), np.array(out["npv"]))


# ---------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------

#: (item of issue 12, what is undone, how, the variant); ``how`` is "inputs" or "re-evaluated".
ROWS: tuple[tuple[str, str, str, object], ...] = (
    (
        "1 timing",
        "uptake read on the first day of each year (every midpoint +0.5 y)",
        "inputs",
        start_of_year_uptake,
    ),
    (
        "1 causality",
        "one adequacy for the whole period, from the totals (underruns banked)",
        "re-evaluated",
        {"adequacy": "whole-period"},
    ),
    (
        "1 underruns",
        "underruns credited: need = o x plan even when o < 1 (per-year adequacy)",
        "re-evaluated",
        {"adequacy": "credit-underruns"},
    ),
    (
        "1 causality + underruns",
        "v1's adequacy: totals, underruns credited",
        "re-evaluated",
        {"adequacy": "v1"},
    ),
    (
        "1 budget changes",
        "default has none; for scale: the £325m cut as a budget change (after-the-cut)",
        "inputs",
        with_the_cut,
    ),
    (
        "1 budget changes",
        "the same £325m cut made by editing `spend` (v1's only way: value unchanged)",
        "inputs",
        cut_by_editing_spend,
    ),
    ("1 cash lines", "no non-staff cash savings (`non_staff_savings` = 0)", "inputs", no_non_staff_savings),
    ("1 running costs", "running costs not counted (`running_cost` = 0)", "inputs", no_running_costs),
    (
        "1 decay",
        "v1's structure: no running costs, decay from the year after the capital (`support_years` = 0)",
        "inputs",
        v1_decay_structure,
    ),
    (
        "1 decay",
        "for scale: kept running to the end at no cost (`support_years` = 10, `running_cost` = 0)",
        "inputs",
        maintained_for_free,
    ),
    ("1 price base", "spend in cash, not 2023/24 prices (flat deflator)", "inputs", cash_prices),
    (
        "2 horizon",
        "NPV and BCR over the 5-year claim window, no residual value",
        "inputs",
        five_year_appraisal,
    ),
    ("2 residual value", "ten years, no residual value (`residual_life` = 0)", "inputs", no_residual_value),
    ("3 counterfactual", "no do-minimum path (`do_minimum_ceiling` = 0)", "inputs", no_counterfactual),
    (
        "4 risks per programme",
        "one portfolio draw: the IT strand's overrun, swan and delay for all",
        "re-evaluated",
        {"shared_risks": True},
    ),
    (
        "4 risks per programme",
        "overruns, and delays, rank-correlated 1 across strands (swans independent)",
        "inputs",
        perfectly_correlated_risks,
    ),
    (
        "5 delay",
        "delay {0, 1, 2} y (p .4/.4/.2) on midpoint + v1's realisation lag",
        "inputs",
        v1_delay_and_lag,
    ),
    ("5 overrun", "overrun body median 0.89 (lognormal mu -0.119, sigma 0.25)", "inputs", v1_overrun_body),
    ("5 time used", "released time used PERT(0.3, 0.5, 0.8)", "inputs", v1_released_time_used),
    (
        "5 staff technology",
        "ceiling PERT(0.3, 0.5, 0.8), midpoint PERT(2.0, 2.5, 3.5)",
        "inputs",
        v1_staff_technology,
    ),
    (
        "5 patient strand",
        "midpoint PERT(1.5, 2.5, 3.5), value per contact PERT(1, 3, 8)",
        "inputs",
        v1_patient_strand,
    ),
    ("5 GP cost", "GP cost per hour PERT(118, 161, 178)", "inputs", v1_gp_cost),
    ("5 doctors' lost hours", "hospital doctors' IT share PERT(0.01, 0.02, 0.06)", "inputs", v1_doctor_share),
    ("5 raids", "raid probability PERT(0.1, 0.25, 0.5), fraction U(0.2, 0.6)", "inputs", v1_raids),
    ("5 decay rates", "v1's decay rates (5-12% a year, mode), after support ends", "inputs", v1_decay_rates),
    ("5 all", "every item-5 default above back to v1 at once", "inputs", all_item5),
)


def main(argv: list[str] | None = None) -> int:
    """Run every row and print the Markdown table."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.effects_v2", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--draws", type=int, default=20_000, help="draws per row (default 20,000)")
    parser.add_argument("--seed", type=int, default=2024, help="seed shared by every row (default 2024)")
    parser.add_argument(
        "--v1-path",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "v1",
        help="checkout of model v1",
    )
    parser.add_argument("--no-v1", action="store_true", help="skip the model v1 row")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    scenario = without_segments(nhsrisk.load_scenario())
    base = nhsrisk.simulate(scenario, draws=args.draws, seed=args.seed)
    baseline = headline_of_run(base)
    claimed = float(np.asarray(base["claimed_return"]))
    capped = float(base["hours_capped"].any(dim=("year", "staff_group")).mean())
    replay = reevaluate(base, scenario)
    errors = reproduction_error(base, replay)
    print(f"Default scenario {scenario.name}, {args.draws:,} draws, seed {args.seed}.", flush=True)
    print(f"Share of draws in which a staff-group cap binds: {capped:.4f}")
    print("Re-evaluation with the v2 rule against the kernel, largest differences:")
    for label, error in errors.items():
        print(f"  {label}: {error:.2e}")

    # What the per-year rule changes, beyond the medians: which years a raid touches.
    whole = reevaluate(base, scenario, adequacy="whole-period")
    claim = base["cumulative_value"].sel(year=base.attrs["target_year"]).values
    raided = base["raid"].values.any(axis=0)
    first = base["value"].isel(year=0).sum("programme").values
    print(
        "Per-year against whole-period adequacy: median claim-window value GBP "
        f"{np.median(claim) / 1e9:.3f}bn against {np.median(whole['claim_value']) / 1e9:.3f}bn; "
        f"in the {raided.mean():.0%} of draws with a raid they differ by GBP "
        f"{np.abs(whole['claim_value'] - claim)[raided].mean() / 1e6:.1f}m on average (absolute); "
        f"the value of {scenario.years[0]} moves by GBP "
        f"{np.abs(whole['value'][:, 0].sum(axis=1) - first).mean() / 1e6:.1f}m on average (absolute), "
        f"against a mean of GBP {first.mean() / 1e6:.1f}m"
    )

    header = (
        "| item | undone (everything else as in v2's default) | how | claim-window value, median (GBP bn) "
        "| P(>= GBP 7bn) | BCR, median | P(BCR < 1) | NPV, median (GBP bn) |"
    )
    lines = [header, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    lines.append(
        "| v2 | the default scenario, as-announced | kernel | " + " | ".join(baseline.cells()) + " |"
    )
    for item, label, how, variant in ROWS:
        if how == "re-evaluated":
            out = reevaluate(base, scenario, **variant)
            row = Headline.of(out["claim_value"], claimed, out["bcr"], out["npv"])
        else:
            ds = nhsrisk.simulate(variant(scenario), draws=args.draws, seed=args.seed)
            row = headline_of_run(ds)
            del ds
        lines.append(f"| {item} | {label} | {how} | " + " | ".join(row.cells()) + " |")
        print(f"  done: {item}: {label} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    if not args.no_v1:
        v1 = v1_headline(args.v1_path, args.draws, args.seed)
        lines.append(
            f"| v1 | model v1 (commit {V1_COMMIT}) on its own default, spring-budget-2024: 5 years | v1 | "
            + " | ".join(v1.cells())
            + " |"
        )
    print()
    print("\n".join(lines))
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
