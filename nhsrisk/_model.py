"""The model's inputs and outputs, declared once.

Every other layer reads this module: the scenario schema checks that its
records carry these fields, :mod:`nhsrisk._plan` builds the kernel's index
arrays in the slot order given here, :mod:`nhsrisk._kernels` reads inputs
and writes outputs through the slot constants defined here,
:mod:`nhsrisk.simulation` allocates and labels the outputs from
:data:`OUTPUTS`, and ``benchmarks/reference.py`` follows the same names.

Adding a risk or an output means editing this declaration and the equations
(``_kernels.evaluate_block`` and ``benchmarks/reference.py``), nothing else.

The module holds names and numbers only: it imports nothing from the package,
so that the kernels (numba) and the Python layers can all sit above it.
"""

from __future__ import annotations

from typing import NamedTuple

# ---------------------------------------------------------------------------------
# Inputs: field names of the scenario records, in kernel slot order
# ---------------------------------------------------------------------------------

#: ``[risks]``: one draw per run, shared by every programme.
RISK_INPUTS = (
    "raid_probability",
    "digital_exclusion",
    "staff_capacity",
    "social_care_leakage",
    "funding_elasticity",
    "released_time_used",
)

#: Streams drawn afresh for every year (the stream name carries the year).
YEAR_INPUTS = ("raid_event", "raid_fraction")

#: ``[programmes.<id>]``, then its optional ``patients`` and ``inclusion`` tables.
#: A programme without the optional table reads zero in those slots.
PROGRAMME_INPUTS = (
    "raid_exposure",
    "cost_overrun",
    "black_swan",
    "black_swan_overrun",
    "delivery_delay",
    "uptake_ceiling",
    "uptake_midpoint",
    "uptake_steepness",
    "do_minimum_ceiling",
    "do_minimum_midpoint",
    "do_minimum_steepness",
    "support_years",
    "benefit_decay",
    "running_cost",
    "cashed_share",
    "non_staff_savings",
    "social_care_share",
)
#: Optional patient keys left out of a scenario read zero, like an absent table.
PATIENT_INPUTS = (
    "contacts_per_year",
    "value_per_contact",
    "online_dependent_share",
    "dual_running_cost",
    "induced_demand_cost",
)
INCLUSION_INPUTS = ("excluded_share_reached",)
PROGRAMME_SLOTS = PROGRAMME_INPUTS + PATIENT_INPUTS + INCLUSION_INPUTS
#: The optional tables of a programme and the slots they fill (zero when a table is absent).
OPTIONAL_TABLES = (("patients", PATIENT_INPUTS), ("inclusion", INCLUSION_INPUTS))

#: ``[programmes.<id>.staff.<group>]``.
PAIR_INPUTS = ("addressable_share", "recovered_fraction")

#: ``[staff_groups.<id>]``.
GROUP_INPUTS = ("fte", "hours_per_fte", "cost_per_hour", "max_release_share")

# Slot constants for the kernel (numba reads module globals as compile-time constants).
RAID_PROBABILITY = RISK_INPUTS.index("raid_probability")
DIGITAL_EXCLUSION = RISK_INPUTS.index("digital_exclusion")
STAFF_CAPACITY = RISK_INPUTS.index("staff_capacity")
SOCIAL_CARE_LEAKAGE = RISK_INPUTS.index("social_care_leakage")
FUNDING_ELASTICITY = RISK_INPUTS.index("funding_elasticity")
RELEASED_TIME_USED = RISK_INPUTS.index("released_time_used")

RAID_EVENT = YEAR_INPUTS.index("raid_event")
RAID_FRACTION = YEAR_INPUTS.index("raid_fraction")

RAID_EXPOSURE = PROGRAMME_SLOTS.index("raid_exposure")
COST_OVERRUN = PROGRAMME_SLOTS.index("cost_overrun")
BLACK_SWAN = PROGRAMME_SLOTS.index("black_swan")
BLACK_SWAN_OVERRUN = PROGRAMME_SLOTS.index("black_swan_overrun")
DELIVERY_DELAY = PROGRAMME_SLOTS.index("delivery_delay")
UPTAKE_CEILING = PROGRAMME_SLOTS.index("uptake_ceiling")
UPTAKE_MIDPOINT = PROGRAMME_SLOTS.index("uptake_midpoint")
UPTAKE_STEEPNESS = PROGRAMME_SLOTS.index("uptake_steepness")
DO_MINIMUM_CEILING = PROGRAMME_SLOTS.index("do_minimum_ceiling")
DO_MINIMUM_MIDPOINT = PROGRAMME_SLOTS.index("do_minimum_midpoint")
DO_MINIMUM_STEEPNESS = PROGRAMME_SLOTS.index("do_minimum_steepness")
SUPPORT_YEARS = PROGRAMME_SLOTS.index("support_years")
BENEFIT_DECAY = PROGRAMME_SLOTS.index("benefit_decay")
RUNNING_COST = PROGRAMME_SLOTS.index("running_cost")
CASHED_SHARE = PROGRAMME_SLOTS.index("cashed_share")
NON_STAFF_SAVINGS = PROGRAMME_SLOTS.index("non_staff_savings")
SOCIAL_CARE_SHARE = PROGRAMME_SLOTS.index("social_care_share")
CONTACTS_PER_YEAR = PROGRAMME_SLOTS.index("contacts_per_year")
VALUE_PER_CONTACT = PROGRAMME_SLOTS.index("value_per_contact")
ONLINE_DEPENDENT_SHARE = PROGRAMME_SLOTS.index("online_dependent_share")
DUAL_RUNNING_COST = PROGRAMME_SLOTS.index("dual_running_cost")
INDUCED_DEMAND_COST = PROGRAMME_SLOTS.index("induced_demand_cost")
EXCLUDED_SHARE_REACHED = PROGRAMME_SLOTS.index("excluded_share_reached")

ADDRESSABLE_SHARE = PAIR_INPUTS.index("addressable_share")
RECOVERED_FRACTION = PAIR_INPUTS.index("recovered_fraction")

FTE = GROUP_INPUTS.index("fte")
HOURS_PER_FTE = GROUP_INPUTS.index("hours_per_fte")
COST_PER_HOUR = GROUP_INPUTS.index("cost_per_hour")
MAX_RELEASE_SHARE = GROUP_INPUTS.index("max_release_share")

#: Arrays of the plan passed to the kernel, in this order (see nhsrisk._plan.Plan).
MODEL_ARRAYS = (
    "risk_idx",
    "year_idx",
    "prog_idx",
    "pg_idx",
    "group_idx",
    "planned_spend",
    "budget_change",
    "last_funded",
    "discount_factor",
    "residual_annuity",
    # population segments (nhsrisk._segments): contact weight, quintile and age band of each
    # segment, digital exclusion by segment on a grid of the headline, the segments each
    # inclusion programme reaches (programme, segment), and the distributional uplift
    "segment_weight",
    "segment_quintile",
    "segment_age",
    "exclusion_table",
    "inclusion_mask",
    "distributional_uplift",
)


# ---------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------


class Output(NamedTuple):
    """One output variable: its dimensions before ``draw``, long name, units and kind."""

    dims: tuple[str, ...]
    long_name: str
    units: str
    boolean: bool = False
    horizon: str = ""


#: Output variables, in the order of the kernel's output tuple. Draws are the last
#: dimension: the kernel writes, and per-year statistics read, contiguous runs.
#: ``horizon`` says which period a scalar covers: the claim window or the appraisal period.
OUTPUTS: dict[str, Output] = {
    "raid": Output(("year",), "Budget raid happened in the year", "1", boolean=True),
    "spend": Output(
        ("year", "programme"), "Capital spent, after budget changes and raids (real terms)", "GBP/year"
    ),
    "running_cost": Output(
        ("year", "programme"), "Revenue cost of keeping the programme's systems running", "GBP/year"
    ),
    "funding_adequacy": Output(
        ("year", "programme"),
        "Funding adequacy: money received to date over money needed to date, capped at 1",
        "1",
    ),
    "uptake": Output(("year", "programme"), "Uptake with the investment (mid-year)", "1"),
    "additional_uptake": Output(
        ("year", "programme"), "Uptake beyond the do-minimum path: what the investment adds", "1"
    ),
    "hours_released": Output(
        ("year", "programme", "staff_group"),
        "Additional staff hours released (after the staff-group cap)",
        "hours/year",
    ),
    "hours_capped": Output(
        ("year", "staff_group"), "Staff-group cap on released hours was binding", "1", boolean=True
    ),
    "value": Output(("year", "programme"), "Value of additional benefits, all kinds", "GBP/year"),
    "cash_releasing_value": Output(
        ("year", "programme"),
        "Cash-releasing benefits: staff time cashed and non-staff savings",
        "GBP/year",
    ),
    "non_cash_releasing_value": Output(
        ("year", "programme"), "Non-cash-releasing benefits: staff time redeployed", "GBP/year"
    ),
    "patient_value": Output(
        ("year", "programme"), "Patient-facing benefits: contacts moved online", "GBP/year"
    ),
    "net_benefit": Output(
        ("year", "programme"), "Net benefit: value minus capital spent and running cost", "GBP/year"
    ),
    "cumulative_value": Output(("year",), "Cumulative undiscounted value, all programmes", "GBP"),
    "pv_capital_cost": Output((), "Present value of capital spent", "GBP", horizon="appraisal"),
    "pv_running_cost": Output((), "Present value of running costs", "GBP", horizon="appraisal"),
    "pv_cash_releasing": Output((), "Present value of cash-releasing benefits", "GBP", horizon="appraisal"),
    "pv_non_cash_releasing": Output(
        (), "Present value of non-cash-releasing benefits", "GBP", horizon="appraisal"
    ),
    "pv_patient": Output((), "Present value of patient-facing benefits", "GBP", horizon="appraisal"),
    "pv_residual_value": Output(
        (),
        "Present value of benefits after the appraisal period (residual value)",
        "GBP",
        horizon="appraisal",
    ),
    "pv_benefits": Output(
        (), "Present value of all benefits, with residual value", "GBP", horizon="appraisal"
    ),
    "pv_costs": Output(
        (), "Present value of all costs: capital, running and dual running", "GBP", horizon="appraisal"
    ),
    "npv": Output((), "Net present value over the appraisal period", "GBP", horizon="appraisal"),
    "bcr": Output(
        (), "Benefit-cost ratio: PV of benefits over PV of costs, appraisal period", "1", horizon="appraisal"
    ),
    "contact_weighted_exclusion": Output(
        ("year",), "Digital exclusion weighted by NHS contacts (mid-year, after inclusion)", "1"
    ),
    "dual_running_cost": Output(
        ("year", "programme"),
        "Cost of keeping non-digital routes open for excluded patients' eligible contacts",
        "GBP/year",
    ),
    "pv_dual_running_cost": Output(
        (), "Present value of the cost of keeping non-digital routes open", "GBP", horizon="appraisal"
    ),
    "pv_patient_by_quintile": Output(
        ("quintile",),
        "Present value of patient-facing benefits, by deprivation quintile of the patients whose "
        "contacts moved online",
        "GBP",
        horizon="appraisal",
    ),
    "pv_patient_by_age_band": Output(
        ("age_band",),
        "Present value of patient-facing benefits, by age band of the patients whose contacts moved online",
        "GBP",
        horizon="appraisal",
    ),
    "pv_dual_running_by_quintile": Output(
        ("quintile",),
        "Present value of the cost of keeping non-digital routes open, by deprivation quintile served",
        "GBP",
        horizon="appraisal",
    ),
    "pv_dual_running_by_age_band": Output(
        ("age_band",),
        "Present value of the cost of keeping non-digital routes open, by age band served",
        "GBP",
        horizon="appraisal",
    ),
    "npv_distributional": Output(
        (),
        "NPV with Green Book distributional weights on the staff time freed for care "
        "(shared by quintile as NHS contacts are) and on the patient channel (in the quintiles it reaches)",
        "GBP",
        horizon="appraisal",
    ),
}

OUTPUT_NAMES = tuple(OUTPUTS)

# Output positions for the kernel.
OUT_RAID = OUTPUT_NAMES.index("raid")
OUT_SPEND = OUTPUT_NAMES.index("spend")
OUT_RUNNING_COST = OUTPUT_NAMES.index("running_cost")
OUT_FUNDING_ADEQUACY = OUTPUT_NAMES.index("funding_adequacy")
OUT_UPTAKE = OUTPUT_NAMES.index("uptake")
OUT_ADDITIONAL_UPTAKE = OUTPUT_NAMES.index("additional_uptake")
OUT_HOURS_RELEASED = OUTPUT_NAMES.index("hours_released")
OUT_HOURS_CAPPED = OUTPUT_NAMES.index("hours_capped")
OUT_VALUE = OUTPUT_NAMES.index("value")
OUT_CASH_RELEASING_VALUE = OUTPUT_NAMES.index("cash_releasing_value")
OUT_NON_CASH_RELEASING_VALUE = OUTPUT_NAMES.index("non_cash_releasing_value")
OUT_PATIENT_VALUE = OUTPUT_NAMES.index("patient_value")
OUT_NET_BENEFIT = OUTPUT_NAMES.index("net_benefit")
OUT_CUMULATIVE_VALUE = OUTPUT_NAMES.index("cumulative_value")
OUT_PV_CAPITAL_COST = OUTPUT_NAMES.index("pv_capital_cost")
OUT_PV_RUNNING_COST = OUTPUT_NAMES.index("pv_running_cost")
OUT_PV_CASH_RELEASING = OUTPUT_NAMES.index("pv_cash_releasing")
OUT_PV_NON_CASH_RELEASING = OUTPUT_NAMES.index("pv_non_cash_releasing")
OUT_PV_PATIENT = OUTPUT_NAMES.index("pv_patient")
OUT_PV_RESIDUAL_VALUE = OUTPUT_NAMES.index("pv_residual_value")
OUT_PV_BENEFITS = OUTPUT_NAMES.index("pv_benefits")
OUT_PV_COSTS = OUTPUT_NAMES.index("pv_costs")
OUT_NPV = OUTPUT_NAMES.index("npv")
OUT_BCR = OUTPUT_NAMES.index("bcr")
OUT_CONTACT_WEIGHTED_EXCLUSION = OUTPUT_NAMES.index("contact_weighted_exclusion")
OUT_DUAL_RUNNING_COST = OUTPUT_NAMES.index("dual_running_cost")
OUT_PV_DUAL_RUNNING_COST = OUTPUT_NAMES.index("pv_dual_running_cost")
OUT_PV_PATIENT_BY_QUINTILE = OUTPUT_NAMES.index("pv_patient_by_quintile")
OUT_PV_PATIENT_BY_AGE_BAND = OUTPUT_NAMES.index("pv_patient_by_age_band")
OUT_PV_DUAL_RUNNING_BY_QUINTILE = OUTPUT_NAMES.index("pv_dual_running_by_quintile")
OUT_PV_DUAL_RUNNING_BY_AGE_BAND = OUTPUT_NAMES.index("pv_dual_running_by_age_band")
OUT_NPV_DISTRIBUTIONAL = OUTPUT_NAMES.index("npv_distributional")

#: Outputs that summaries, the CLI and plots treat as the headline of each horizon.
CLAIM_OUTPUT = "cumulative_value"
APPRAISAL_OUTPUTS = ("npv", "bcr")

#: Outputs that a run holds by default (``simulate(keep="headline")``, with the sampled inputs):
#: what a summary, payback, the fan chart, the exceedance curve, rank correlations (raid events
#: are inputs), a comparison against a baseline and an update by observed delivery read. Per draw
#: they take about 40% of the bytes of every output; the rest (hours by staff group, value by kind,
#: adequacy, additional uptake, net benefit) is computed on request: ``simulate(outputs=[...])``,
#: ``keep="all"`` or ``ds.nhsrisk.with_outputs(...)`` on a run, bit for bit the same draws.
HEADLINE_OUTPUTS = (
    "raid",
    "spend",
    # running and dual-running costs are what payback and the net flow by year read
    "running_cost",
    # uptake is what delivery is observed by (nhsrisk.update of a saved run: 240 bytes a draw)
    "uptake",
    "value",
    # who gains and who is left out (issue 15): 10 years and 20 segment margins, 240 bytes a draw
    "contact_weighted_exclusion",
    "dual_running_cost",
    "pv_patient_by_quintile",
    "pv_patient_by_age_band",
    "pv_dual_running_by_quintile",
    "pv_dual_running_by_age_band",
    "hours_capped",
    "cumulative_value",
    *(name for name, out in OUTPUTS.items() if not out.dims),
)
