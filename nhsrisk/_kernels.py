"""Numba kernels: the sampling loop and the structural model, one draw at a time.

Only arrays go in and come out; nothing here validates, allocates results or
knows about xarray. Every draw ``i`` reads its randomness from
``philox_uniform(start + i, key_of_input)``, so a draw's result depends only on
the seed, the draw index and the scenario: never on threads or chunking.

The structural model is documented in ``docs/model.md``; index constants below
name the slots of the index arrays built by :mod:`nhsrisk._plan`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from nhsrisk._config import NUMBA_CACHE
from nhsrisk._rng import philox_uniform
from nhsrisk._sampling import FIXED, inverse_cdf

# risk_idx slots
RAID_PROBABILITY = 0
COST_OVERRUN = 1
BLACK_SWAN = 2
BLACK_SWAN_OVERRUN = 3
DELIVERY_DELAY = 4
DIGITAL_EXCLUSION = 5
STAFF_CAPACITY = 6
SOCIAL_CARE_LEAKAGE = 7
FUNDING_ELASTICITY = 8
REDEPLOYMENT_FRACTION = 9
N_RISK_SLOTS = 10

# year_idx slots
RAID_EVENT = 0
RAID_FRACTION = 1

# prog_idx slots
RAID_EXPOSURE = 0
UPTAKE_CEILING = 1
UPTAKE_MIDPOINT = 2
UPTAKE_STEEPNESS = 3
REALISATION_LAG = 4
BENEFIT_DECAY = 5
CASH_RELEASING_FRACTION = 6
SOCIAL_CARE_SHARE = 7
CONTACTS_PER_YEAR = 8
VALUE_PER_CONTACT = 9
N_PROGRAMME_SLOTS = 10

# pg_idx slots (programme x staff group)
ADDRESSABLE_SHARE = 0
RECOVERED_FRACTION = 1

# group_idx slots
FTE = 0
HOURS_PER_FTE = 1
COST_PER_HOUR = 2
MAX_RELEASE_SHARE = 3
N_GROUP_SLOTS = 4

#: Draws per work item of the parallel loop; scratch space is allocated once per item.
BLOCK = 512


@numba.njit(cache=NUMBA_CACHE)
def sample_stream(code, params, table, k0, k1, start, out):
    """Fill ``out`` with draws ``start, start+1, ...`` of one input's stream."""
    for i in range(out.shape[0]):
        u = philox_uniform(np.uint64(start + i), k0, k1)
        out[i] = inverse_cdf(code, params, table, u)


@numba.njit(cache=NUMBA_CACHE, inline="always")
def _sample_inputs(draw, i, codes, params, table_rows, tables, keys, store_rows, x, inputs_out):
    """Sample every input of draw ``draw`` into ``x``; keep the uncertain ones in column ``i``."""
    for k in range(codes.shape[0]):
        code = codes[k]
        if code == FIXED:
            x[k] = params[k, 0]
            continue
        u = philox_uniform(draw, keys[k, 0], keys[k, 1])
        x[k] = inverse_cdf(code, params[k], tables[table_rows[k]], u)
        row = store_rows[k]
        if row >= 0:
            inputs_out[row, i] = x[k]


@numba.njit(cache=NUMBA_CACHE)
def evaluate_draw(
    i,
    x,
    risk_idx,
    year_idx,
    prog_idx,
    pg_idx,
    group_idx,
    planned_spend,
    last_funded,
    discount_factor,
    scratch_hours,
    raid_out,
    spend_out,
    adequacy_out,
    uptake_out,
    hours_out,
    capped_out,
    value_out,
    cash_out,
    net_out,
    cumulative_out,
    npv_out,
    bcr_out,
):
    """Evaluate the structural model for one draw whose inputs are in ``x``.

    ``planned_spend`` has shape (programme, year); outputs are indexed
    ``[i, year, programme(, staff_group)]``.
    """
    n_prog, n_year = planned_spend.shape
    n_group = group_idx.shape[0]

    raid_probability = x[risk_idx[RAID_PROBABILITY]]
    for t in range(n_year):
        raid = 1.0 if x[year_idx[t, RAID_EVENT]] < raid_probability else 0.0
        raid_out[i, t] = raid
        cut = raid * x[year_idx[t, RAID_FRACTION]]
        for p in range(n_prog):
            spend_out[i, t, p] = planned_spend[p, t] * (1.0 - cut * x[prog_idx[p, RAID_EXPOSURE]])

    if x[risk_idx[BLACK_SWAN]] > 0.5:
        overrun = x[risk_idx[BLACK_SWAN_OVERRUN]]
    else:
        overrun = x[risk_idx[COST_OVERRUN]]
    delay = x[risk_idx[DELIVERY_DELAY]]
    capacity = x[risk_idx[STAFF_CAPACITY]]
    elasticity = x[risk_idx[FUNDING_ELASTICITY]]

    for p in range(n_prog):
        planned = 0.0
        actual = 0.0
        for t in range(n_year):
            planned += planned_spend[p, t]
            actual += spend_out[i, t, p]
        if actual > 0.0:
            adequacy = min(1.0, actual / (overrun * planned))
            funding_factor = adequacy**elasticity
        else:
            adequacy = 0.0
            funding_factor = 0.0  # no money, no technology, whatever the elasticity
        adequacy_out[i, p] = adequacy
        ceiling = x[prog_idx[p, UPTAKE_CEILING]] * capacity * funding_factor
        shift = x[prog_idx[p, UPTAKE_MIDPOINT]] + x[prog_idx[p, REALISATION_LAG]] + delay
        steepness = x[prog_idx[p, UPTAKE_STEEPNESS]]
        keep = 1.0 - x[prog_idx[p, BENEFIT_DECAY]]
        for t in range(n_year):
            level = ceiling / (1.0 + math.exp(-(t - shift) * steepness))
            if level > 1.0:
                level = 1.0
            years_after = t - last_funded[p]
            if years_after > 0:
                level *= keep**years_after
            uptake_out[i, t, p] = level

    redeployed = x[risk_idx[REDEPLOYMENT_FRACTION]]
    included = 1.0 - x[risk_idx[DIGITAL_EXCLUSION]]
    leakage = x[risk_idx[SOCIAL_CARE_LEAKAGE]]
    npv = 0.0
    pv_value = 0.0
    pv_spend = 0.0
    cumulative = 0.0
    for t in range(n_year):
        for g in range(n_group):
            staff_hours = x[group_idx[g, FTE]] * x[group_idx[g, HOURS_PER_FTE]]
            total = 0.0
            for p in range(n_prog):
                a = pg_idx[p, g, ADDRESSABLE_SHARE]
                if a < 0:
                    scratch_hours[p, g] = 0.0
                    continue
                h = staff_hours * x[a] * x[pg_idx[p, g, RECOVERED_FRACTION]] * uptake_out[i, t, p]
                scratch_hours[p, g] = h
                total += h
            available = staff_hours * x[group_idx[g, MAX_RELEASE_SHARE]]
            scale = 1.0
            if total > available:
                scale = available / total
                capped_out[i, t, g] = True
            else:
                capped_out[i, t, g] = False
            for p in range(n_prog):
                hours_out[i, t, p, g] = scratch_hours[p, g] * scale
        year_value = 0.0
        for p in range(n_prog):
            staff_value = 0.0
            for g in range(n_group):
                staff_value += hours_out[i, t, p, g] * x[group_idx[g, COST_PER_HOUR]]
            patient_value = (
                x[prog_idx[p, CONTACTS_PER_YEAR]]
                * included
                * uptake_out[i, t, p]
                * x[prog_idx[p, VALUE_PER_CONTACT]]
            )
            value = (staff_value * redeployed + patient_value) * (
                1.0 - x[prog_idx[p, SOCIAL_CARE_SHARE]] * leakage
            )
            spend = spend_out[i, t, p]
            value_out[i, t, p] = value
            cash_out[i, t, p] = value * x[prog_idx[p, CASH_RELEASING_FRACTION]]
            net_out[i, t, p] = value - spend
            year_value += value
            pv_value += value * discount_factor[t]
            pv_spend += spend * discount_factor[t]
        cumulative += year_value
        cumulative_out[i, t] = cumulative
    npv = pv_value - pv_spend
    npv_out[i] = npv
    bcr_out[i] = pv_value / pv_spend if pv_spend > 0.0 else 0.0


@numba.njit(cache=NUMBA_CACHE, parallel=True)
def simulate_kernel(
    start,
    codes,
    params,
    table_rows,
    tables,
    keys,
    store_rows,
    risk_idx,
    year_idx,
    prog_idx,
    pg_idx,
    group_idx,
    planned_spend,
    last_funded,
    discount_factor,
    inputs_out,
    raid_out,
    spend_out,
    adequacy_out,
    uptake_out,
    hours_out,
    capped_out,
    value_out,
    cash_out,
    net_out,
    cumulative_out,
    npv_out,
    bcr_out,
):
    """Sample and evaluate draws ``start .. start + n - 1`` (n = ``npv_out.shape[0]``)."""
    n = npv_out.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    n_inputs = codes.shape[0]
    n_prog = planned_spend.shape[0]
    n_group = group_idx.shape[0]
    for b in numba.prange(n_blocks):
        x = np.empty(n_inputs)
        scratch_hours = np.empty((n_prog, n_group))
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            _sample_inputs(
                np.uint64(start + i), i, codes, params, table_rows, tables, keys, store_rows, x, inputs_out
            )
            evaluate_draw(
                i,
                x,
                risk_idx,
                year_idx,
                prog_idx,
                pg_idx,
                group_idx,
                planned_spend,
                last_funded,
                discount_factor,
                scratch_hours,
                raid_out,
                spend_out,
                adequacy_out,
                uptake_out,
                hours_out,
                capped_out,
                value_out,
                cash_out,
                net_out,
                cumulative_out,
                npv_out,
                bcr_out,
            )
