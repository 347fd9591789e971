"""Numba kernels: the sampling loop and the structural model, a block of draws at a time.

Only arrays go in and come out; nothing here validates, allocates results or
knows about xarray. Every draw ``i`` reads its randomness from
``philox_uniform(start + i, key_of_input)``, so a draw's result depends only on
the seed, the draw index and the scenario: never on threads or chunking.

The structural model is documented in ``docs/model.md``; index constants below
name the slots of the index arrays built by :mod:`nhsrisk._plan`.
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, SupportsInt

import numba
import numpy as np

from nhsrisk import _model as M
from nhsrisk._config import ERROR_MODEL, NUMBA_CACHE
from nhsrisk._design import DESIGN, mix_normal_scores, normal_scores_to_uniforms, source_uniforms
from nhsrisk._rng import fill_uniforms
from nhsrisk._sampling import FIXED, LOGNORMAL, NORMAL, normal_scores_to_values, transform_uniforms
from nhsrisk._special import exp_many, ndtri_many, pow_many

#: Draws per task when kept inputs are sampled (one input, one inverse-CDF table, per task).
RUN = 4096
#: Draws per work item of the parallel model loop. Inputs and scratch live in
#: (n_inputs, BLOCK) arrays, so every inner loop runs over draws.
BLOCK = 512
#: Draws per piece of work handed to a thread: a piece's kept inputs (8 bytes x
#: inputs x CHUNK) are read back by the model while still in the thread's cache.
CHUNK = 8192
#: Draws per piece when only some outputs are kept: the thread writes every output of the
#: piece into its own scratch arrays (about 11 MB for the default scenario, touched once and
#: reused) and copies the kept ones out while they are still in its cache.
KEPT_PIECE = 2048


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def draw_input(first, code, params, table, k0, k1, values, count):
    """Draws ``first .. first + count - 1`` of one input's stream into ``values[:count]``."""
    fill_uniforms(first, k0, k1, values, count)
    transform_uniforms(code, params, table, values, count)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def sample_stream(code, params, table, k0, k1, start, out):
    """Fill ``out`` with draws ``start, start+1, ...`` of one input's stream."""
    n = out.shape[0]
    for lo in range(0, n, RUN):
        count = min(RUN, n - lo)
        draw_input(np.uint64(start + lo), code, params, table, k0, k1, out[lo : lo + count], count)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def copy_draws(source, target, count):
    """``target[:count] = source[:count]``, as a loop: numba compiles slice assignment slowly."""
    for j in range(count):
        target[j] = source[j]


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def zero_draws(target, count):
    """``target[:count] = 0.0``, as a loop (see :func:`copy_draws`)."""
    for j in range(count):
        target[j] = 0.0


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def block_scratch(model):
    """Work arrays for :func:`evaluate_block`.

    Per-draw vectors; per programme and group; per group; per year; per programme.
    """
    group_idx = model[4]
    planned_spend = model[5]
    segment_quintile, segment_age = model[11], model[12]
    n_prog, n_year = planned_spend.shape
    n_group = group_idx.shape[0]
    n_segment = segment_quintile.shape[0]
    n_margin = segment_quintile.max() + 1 + segment_age.max() + 1
    return (
        np.empty((_N_VECTORS, BLOCK)),
        np.empty((n_prog, n_group, BLOCK)),
        np.empty((n_group, BLOCK)),
        np.empty((n_year, BLOCK)),
        np.empty((2, n_prog, BLOCK)),
        # digital exclusion by segment: before inclusion, and in the year being valued
        np.empty((2, n_segment, BLOCK)),
        # present values by quintile then age band: patient benefits, dual running
        np.empty((2, n_margin, BLOCK)),
    )


#: The per-draw work vectors of a block (rows of ``scratch[0]``), named once: the uptake
#: phase of :func:`evaluate_block` uses the first group, :func:`_value_and_appraisal` the rest.
_VECTORS = (
    "capital",
    "in_use",
    "base_level",
    "faded",
    "fade_first",
    "keep",
    "last_factor",
    "path_exp",
    "path_step",
    "path_half",
    "base_exp",
    "base_step",
    "support_end",
    "need_factor",
    "total",
    "hours_scale",
    "contact_exclusion",
    "cumulative",
    "pv_capital",
    "pv_running",
    "pv_cash",
    "pv_redeployed",
    "pv_patient",
    "pv_residual",
    "pv_dual_running",
)
_N_VECTORS = len(_VECTORS)
_CAPITAL = _VECTORS.index("capital")
_IN_USE = _VECTORS.index("in_use")
_BASE_LEVEL = _VECTORS.index("base_level")
_FADED = _VECTORS.index("faded")
_FADE_FIRST = _VECTORS.index("fade_first")
_KEEP = _VECTORS.index("keep")
_LAST_FACTOR = _VECTORS.index("last_factor")
_PATH_EXP = _VECTORS.index("path_exp")
_PATH_STEP = _VECTORS.index("path_step")
_PATH_HALF = _VECTORS.index("path_half")
_BASE_EXP = _VECTORS.index("base_exp")
_BASE_STEP = _VECTORS.index("base_step")
_SUPPORT_END = _VECTORS.index("support_end")
_NEED_FACTOR = _VECTORS.index("need_factor")
_TOTAL = _VECTORS.index("total")
_HOURS_SCALE = _VECTORS.index("hours_scale")
#: The accumulators zeroed at the start of every block: cumulative value and the present values.
_FIRST_SUM = _VECTORS.index("cumulative")
_PV_CAPITAL = _VECTORS.index("pv_capital")
_PV_RUNNING = _VECTORS.index("pv_running")
_PV_CASH = _VECTORS.index("pv_cash")
_PV_REDEPLOYED = _VECTORS.index("pv_redeployed")
_PV_PATIENT = _VECTORS.index("pv_patient")
_PV_RESIDUAL = _VECTORS.index("pv_residual")
_PV_DUAL_RUNNING = _VECTORS.index("pv_dual_running")
_CONTACT_EXCLUSION = _VECTORS.index("contact_exclusion")


#: Largest exp(-z) of an S-curve carried by the year-to-year recurrence (see evaluate_block).
_EXP_CAP = 1e300


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def logistic(z):
    """``1 / (1 + exp(-z))``, the uptake S-curve."""
    return 1.0 / (1.0 + math.exp(-z))


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _running_cost(level, base, full):
    """Return the running cost of a supported year: ``full`` for the systems beyond the do-minimum.

    Continuous in uptake: all of ``full`` with no do-minimum, none where the do-minimum
    leads; systems that would have run anyway cost the investment nothing extra to run.
    """
    if level > base:
        return full * ((level - base) / level)
    if base > 0.0:
        return 0.0
    return full


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def evaluate_block(lo, count, x, model, scratch, outputs):
    """Evaluate the structural model (version 2) for draws ``lo .. lo + count - 1``.

    ``x[k, j]`` holds input ``k`` of draw ``lo + j``. ``model`` is the tuple of
    arrays named in :data:`nhsrisk._model.MODEL_ARRAYS` (``planned_spend`` and
    ``budget_change`` in real terms, shape (programme, year)); ``outputs`` the
    tuple in the order of :data:`nhsrisk._model.OUTPUTS`, indexed ``[year,
    programme(, staff_group), draw]``: draws last, so every inner loop here
    writes contiguous memory. ``scratch`` is the tuple of work arrays made by
    :func:`block_scratch`. The equations are in docs/model.md.

    Causality: everything written for year ``t`` reads inputs of years ``<= t``
    only; the appraisal totals (present values, NPV, BCR) come last.
    """
    risk_idx, year_idx, prog_idx, pg_idx, group_idx = model[0], model[1], model[2], model[3], model[4]
    planned_spend, budget_change, last_funded = model[5], model[6], model[7]
    raid_out = outputs[M.OUT_RAID]
    spend_out = outputs[M.OUT_SPEND]
    running_out = outputs[M.OUT_RUNNING_COST]
    adequacy_out = outputs[M.OUT_FUNDING_ADEQUACY]
    uptake_out = outputs[M.OUT_UPTAKE]
    additional_out = outputs[M.OUT_ADDITIONAL_UPTAKE]
    n_prog, n_year = planned_spend.shape
    n_group = group_idx.shape[0]
    vectors, full_uptake_hours, releasable, year_cut, per_programme, by_segment, by_margin = scratch
    capital = vectors[_CAPITAL]
    in_use = vectors[_IN_USE]
    base_level = vectors[_BASE_LEVEL]
    # uptake after support ends: the level reached, fading by keep = 1 - decay a year
    faded = vectors[_FADED]
    fade_first = vectors[_FADE_FIRST]
    keep = vectors[_KEEP]
    last_factor = vectors[_LAST_FACTOR]
    # exp(-z) of the two S-curves at the next mid-year, its factor from one year to the
    # next, and (path_half) from a mid-year to the end of that year
    path_exp = vectors[_PATH_EXP]
    path_step = vectors[_PATH_STEP]
    path_half = vectors[_PATH_HALF]
    base_exp = vectors[_BASE_EXP]
    base_step = vectors[_BASE_STEP]
    support_end = vectors[_SUPPORT_END]
    need_factor = vectors[_NEED_FACTOR]

    # Budget raids: the money taken does not come back.
    raid_probability = x[risk_idx[M.RAID_PROBABILITY]]
    for t in range(n_year):
        event = x[year_idx[t, M.RAID_EVENT]]
        fraction = x[year_idx[t, M.RAID_FRACTION]]
        # only a year with capital to spend can be raided
        funded = 0.0
        for p in range(n_prog):
            funded += planned_spend[p, t] + budget_change[p, t]
        for j in range(count):
            raid = funded > 0.0 and event[j] < raid_probability[j]
            raid_out[t, lo + j] = raid
            year_cut[t, j] = fraction[j] if raid else 0.0

    # Per programme: capital received, adequacy to date, uptake, running cost.
    capacity = x[risk_idx[M.STAFF_CAPACITY]]
    elasticity = x[risk_idx[M.FUNDING_ELASTICITY]]
    for p in range(n_prog):
        exposure = x[prog_idx[p, M.RAID_EXPOSURE]]
        body_overrun = x[prog_idx[p, M.COST_OVERRUN]]
        swan = x[prog_idx[p, M.BLACK_SWAN]]
        swan_overrun = x[prog_idx[p, M.BLACK_SWAN_OVERRUN]]
        delay = x[prog_idx[p, M.DELIVERY_DELAY]]
        ceiling = x[prog_idx[p, M.UPTAKE_CEILING]]
        midpoint = x[prog_idx[p, M.UPTAKE_MIDPOINT]]
        steepness = x[prog_idx[p, M.UPTAKE_STEEPNESS]]
        base_ceiling = x[prog_idx[p, M.DO_MINIMUM_CEILING]]
        base_midpoint = x[prog_idx[p, M.DO_MINIMUM_MIDPOINT]]
        base_steepness = x[prog_idx[p, M.DO_MINIMUM_STEEPNESS]]
        support = x[prog_idx[p, M.SUPPORT_YEARS]]
        decay = x[prog_idx[p, M.BENEFIT_DECAY]]
        running_share = x[prog_idx[p, M.RUNNING_COST]]
        zero_draws(capital, count)
        zero_draws(faded, count)
        for j in range(count):
            last_factor[j] = 1.0  # adequacy is 1 until money is planned
            overrun = swan_overrun[j] if swan[j] > 0.5 else body_overrun[j]
            # an underrun is banked, never set against a cut: the need is at least the plan
            need_factor[j] = overrun if overrun > 1.0 else 1.0
            # support beyond the period ends after it (and a huge value must not overflow an int)
            support_end[j] = last_funded[p] + 1 + math.floor(min(support[j], float(n_year)))
            keep[j] = 1.0 - decay[j]
            fade_first[j] = math.sqrt(keep[j])
            # S((t + 0.5 - c) k) = 1 / (1 + e0 r**t), e0 = exp(-(0.5 - c) k), r = exp(-k): two exp
            # per draw instead of two per year (their arguments here, the exp over all draws below)
            path_exp[j] = -(0.5 - midpoint[j] - delay[j]) * steepness[j]
            path_step[j] = -steepness[j]
            base_exp[j] = -(0.5 - base_midpoint[j]) * base_steepness[j]
            base_step[j] = -base_steepness[j]
        exp_many(path_exp, count)
        exp_many(path_step, count)
        exp_many(base_exp, count)
        exp_many(base_step, count)
        for j in range(count):
            # Where e0 reaches the cap (a curve far in the future) the recurrence would lose the
            # curve, so the S-curve is evaluated directly there
            path_exp[j] = min(path_exp[j], _EXP_CAP)
            base_exp[j] = min(base_exp[j], _EXP_CAP)
            path_half[j] = math.sqrt(path_step[j])
        needed = 0.0
        for t in range(n_year):
            planned = planned_spend[p, t]
            funded = planned + budget_change[p, t]
            needed += planned
            spend_row = spend_out[t, p]
            adequacy_row = adequacy_out[t, p]
            uptake_row = uptake_out[t, p]
            additional_row = additional_out[t, p]
            running_row = running_out[t, p]
            # Loops over the draws with no call and no branch the compiler cannot turn into a
            # select: the money loop vectorises; the S-curve loop stays scalar (it touches too many
            # arrays for run-time overlap checks, and split into small loops it measured slower)
            for j in range(count):
                spend = funded * (1.0 - year_cut[t, j] * exposure[j])
                spend_row[lo + j] = spend
                # systems bought during the year run for half of it (mid-year convention)
                in_use[j] = capital[j] + 0.5 * spend
                capital[j] += spend
                need = needed * need_factor[j]
                # nothing planned yet, nothing missing
                adequacy = min(capital[j] / need, 1.0) if need > 0.0 else 1.0
                adequacy_row[lo + j] = adequacy
            # A year with no money planned or received leaves adequacy, so its factor, as it was
            if planned != 0.0 or funded != 0.0:
                pow_many(adequacy_row[lo : lo + count], elasticity, last_factor, count)
                for j in range(count):
                    # no money, no technology, whatever the elasticity
                    last_factor[j] = last_factor[j] if adequacy_row[lo + j] > 0.0 else 0.0
            capped = False
            for j in range(count):
                level_max = ceiling[j] * capacity[j] * last_factor[j]
                end = support_end[j]
                e_base = base_exp[j]
                base = base_ceiling[j] / (1.0 + e_base)
                base_exp[j] = e_base * base_step[j] if e_base < _EXP_CAP else e_base
                e_path = path_exp[j]
                level = level_max / (1.0 + e_path)
                path_exp[j] = e_path * path_step[j] if e_path < _EXP_CAP else e_path
                capped |= (e_base >= _EXP_CAP) | (e_path >= _EXP_CAP)
                if t == end - 1:
                    # the level at the end of support, then half a year of fading to mid-year
                    faded[j] = level_max / (1.0 + e_path * path_half[j]) * fade_first[j]
                if t >= end:
                    # support has ended: what was reached fades, and no running cost is paid
                    level = faded[j]
                    faded[j] *= keep[j]
                base_level[j] = base
                uptake_row[lo + j] = level
                additional_row[lo + j] = level - base if level > base else 0.0
                running_row[lo + j] = (
                    _running_cost(level, base, running_share[j] * in_use[j]) if t < end else 0.0
                )
            if capped:
                # a curve too far in the future for the recurrence: the S-curve itself
                for j in range(count):
                    base_capped = base_exp[j] >= _EXP_CAP
                    path_capped = path_exp[j] >= _EXP_CAP
                    end = support_end[j]
                    if not (base_capped or (path_capped and t < end)):
                        continue
                    base = base_level[j]
                    if base_capped:
                        base = base_ceiling[j] * logistic((t + 0.5 - base_midpoint[j]) * base_steepness[j])
                    level = uptake_row[lo + j]
                    if path_capped and t < end:
                        shift = midpoint[j] + delay[j]
                        level_max = ceiling[j] * capacity[j] * last_factor[j]
                        level = level_max * logistic((t + 0.5 - shift) * steepness[j])
                        if t == end - 1:
                            faded[j] = level_max * logistic((end - shift) * steepness[j]) * fade_first[j]
                    uptake_row[lo + j] = level
                    additional_row[lo + j] = level - base if level > base else 0.0
                    if t < end:
                        running_row[lo + j] = _running_cost(level, base, running_share[j] * in_use[j])

    # Digital exclusion by segment before inclusion: the headline itself without a population
    # table, else the profile shifted to the headline, interpolated in its table (nhsrisk._segments).
    excluded = x[risk_idx[M.DIGITAL_EXCLUSION]]
    exclusion_table = model[13]
    segment_base = by_segment[0]
    if exclusion_table.shape[0] == 0:
        copy_draws(excluded, segment_base[0], count)
    else:
        last = exclusion_table.shape[0] - 1
        for j in range(count):
            position = excluded[j] * last
            k = min(int(position), last - 1)
            fraction = position - k
            for s in range(segment_base.shape[0]):
                low = exclusion_table[k, s]
                segment_base[s, j] = low + (exclusion_table[k + 1, s] - low) * fraction

    # Year-independent factors, once per block: hours a programme releases at full
    # uptake, FTE x hours x addressable x recovered, and each group's releasable time.
    for g in range(n_group):
        fte = x[group_idx[g, M.FTE]]
        hours = x[group_idx[g, M.HOURS_PER_FTE]]
        share = x[group_idx[g, M.MAX_RELEASE_SHARE]]
        for j in range(count):
            releasable[g, j] = fte[j] * hours[j] * share[j]
        for p in range(n_prog):
            a = pg_idx[p, g, M.ADDRESSABLE_SHARE]
            if a < 0:
                zero_draws(full_uptake_hours[p, g], count)
                continue
            addressable = x[a]
            recovered = x[pg_idx[p, g, M.RECOVERED_FRACTION]]
            for j in range(count):
                full_uptake_hours[p, g, j] = fte[j] * hours[j] * addressable[j] * recovered[j]

    _value_and_appraisal(
        lo,
        count,
        x,
        model,
        vectors,
        full_uptake_hours,
        releasable,
        per_programme,
        by_segment,
        by_margin,
        outputs,
    )


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _exclusion_this_year(t, lo, count, x, model, by_segment, contact_exclusion, outputs):
    """Exclusion by segment in year ``t``, after inclusion programmes, and its contact-weighted mean.

    Each inclusion programme brings online its reach x additional uptake of the excluded in the
    segments it targets; the contact-weighted mean weights segments by their NHS contacts.
    """
    prog_idx, segment_weight, inclusion_mask = model[2], model[10], model[14]
    additional_out = outputs[M.OUT_ADDITIONAL_UPTAKE]
    segment_base, segment_now = by_segment[0], by_segment[1]
    n_segment = segment_base.shape[0]
    n_prog = inclusion_mask.shape[0]
    for s in range(n_segment):
        for j in range(count):
            segment_now[s, j] = 1.0
    for p in range(n_prog):
        if prog_idx[p, M.EXCLUDED_SHARE_REACHED] == 0:
            continue  # no inclusion table: its reach is the constant zero
        reach = x[prog_idx[p, M.EXCLUDED_SHARE_REACHED]]
        for s in range(n_segment):
            targeted = inclusion_mask[p, s]
            if targeted == 0.0:
                continue
            for j in range(count):
                segment_now[s, j] -= targeted * reach[j] * additional_out[t, p, lo + j]
    zero_draws(contact_exclusion, count)
    for s in range(n_segment):
        weight = segment_weight[s]
        for j in range(count):
            share = segment_now[s, j]
            level = segment_base[s, j] * share if share > 0.0 else 0.0
            segment_now[s, j] = level
            contact_exclusion[j] += weight * level
    out = outputs[M.OUT_CONTACT_WEIGHTED_EXCLUSION]
    for j in range(count):
        out[t, lo + j] = contact_exclusion[j]


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _value_and_appraisal(
    lo, count, x, model, vectors, full_uptake_hours, releasable, per_programme, by_segment, by_margin, outputs
):
    """Hours released (capped per staff group), value by kind, present values, NPV and BCR.

    ``per_programme[0]`` is scratch, (programme, BLOCK): a year's released hours at their cost;
    ``per_programme[1]`` the additional uptake that reaches patients who are online, for the
    share of a programme's savings that needs them (``online_dependent_share``).
    """
    risk_idx, prog_idx, group_idx = model[0], model[2], model[4]
    discount_factor, residual_annuity = model[8], model[9]
    segment_weight, segment_quintile, segment_age = model[10], model[11], model[12]
    distributional_uplift = model[15]
    staff_value, added_online = per_programme[0], per_programme[1]
    segment_now = by_segment[1]
    n_segment = segment_now.shape[0]
    patient_margin, dual_margin = by_margin[0], by_margin[1]
    n_margin = patient_margin.shape[0]
    first_age = n_margin - (segment_age.max() + 1)
    dual_out = outputs[M.OUT_DUAL_RUNNING_COST]
    spend_out = outputs[M.OUT_SPEND]
    running_out = outputs[M.OUT_RUNNING_COST]
    additional_out = outputs[M.OUT_ADDITIONAL_UPTAKE]
    hours_out = outputs[M.OUT_HOURS_RELEASED]
    capped_out = outputs[M.OUT_HOURS_CAPPED]
    value_out = outputs[M.OUT_VALUE]
    cash_out = outputs[M.OUT_CASH_RELEASING_VALUE]
    redeployed_out = outputs[M.OUT_NON_CASH_RELEASING_VALUE]
    patient_out = outputs[M.OUT_PATIENT_VALUE]
    net_out = outputs[M.OUT_NET_BENEFIT]
    cumulative_out = outputs[M.OUT_CUMULATIVE_VALUE]
    n_prog, n_year = model[5].shape
    n_group = group_idx.shape[0]
    total = vectors[_TOTAL]
    scale = vectors[_HOURS_SCALE]
    cumulative = vectors[_FIRST_SUM]
    pv_capital = vectors[_PV_CAPITAL]
    pv_running = vectors[_PV_RUNNING]
    pv_cash = vectors[_PV_CASH]
    pv_redeployed = vectors[_PV_REDEPLOYED]
    pv_patient = vectors[_PV_PATIENT]
    pv_residual = vectors[_PV_RESIDUAL]
    pv_dual = vectors[_PV_DUAL_RUNNING]
    contact_exclusion = vectors[_CONTACT_EXCLUSION]
    used = x[risk_idx[M.RELEASED_TIME_USED]]
    leakage = x[risk_idx[M.SOCIAL_CARE_LEAKAGE]]
    for v in range(_FIRST_SUM, _N_VECTORS):
        zero_draws(vectors[v], count)
    for m in range(n_margin):
        zero_draws(patient_margin[m], count)
        zero_draws(dual_margin[m], count)
    for t in range(n_year):
        _exclusion_this_year(t, lo, count, x, model, by_segment, contact_exclusion, outputs)
        # Savings that need patients online reach only the contact-weighted included share
        # (1 - 0 * x is 1: a programme that needs no one online keeps its uptake exactly).
        for p in range(n_prog):
            online = x[prog_idx[p, M.ONLINE_DEPENDENT_SHARE]]
            row = added_online[p]
            for j in range(count):
                row[j] = additional_out[t, p, lo + j] * (1.0 - online[j] * contact_exclusion[j])
        # Hours by group, scaled down where they exceed the group's releasable time, and their
        # value by programme, in one pass: the hours are written once and never read back.
        for p in range(n_prog):
            zero_draws(staff_value[p], count)
        for g in range(n_group):
            cost = x[group_idx[g, M.COST_PER_HOUR]]
            zero_draws(total, count)
            for p in range(n_prog):
                for j in range(count):
                    total[j] += full_uptake_hours[p, g, j] * added_online[p, j]
            for j in range(count):
                available = releasable[g, j]
                binding = total[j] > available
                capped_out[t, g, lo + j] = binding
                # h * 1.0 is h: the same hours as scaling only where the cap binds
                scale[j] = available / total[j] if binding else 1.0
            for p in range(n_prog):
                value_row = staff_value[p]
                for j in range(count):
                    h = full_uptake_hours[p, g, j] * added_online[p, j] * scale[j]
                    hours_out[t, p, g, lo + j] = h
                    value_row[j] += h * cost[j]
        last_year = t == n_year - 1
        discount = discount_factor[t]
        for p in range(n_prog):
            contacts = x[prog_idx[p, M.CONTACTS_PER_YEAR]]
            per_contact = x[prog_idx[p, M.VALUE_PER_CONTACT]]
            induced = x[prog_idx[p, M.INDUCED_DEMAND_COST]]
            dual_cost = x[prog_idx[p, M.DUAL_RUNNING_COST]]
            care_share = x[prog_idx[p, M.SOCIAL_CARE_SHARE]]
            cashed_share = x[prog_idx[p, M.CASHED_SHARE]]
            savings = x[prog_idx[p, M.NON_STAFF_SAVINGS]]
            time_worth = staff_value[p]
            annuity = residual_annuity[p]
            for j in range(count):
                kept = 1.0 - care_share[j] * leakage[j]
                added = additional_out[t, p, lo + j]
                time_value = time_worth[j] * used[j] * kept
                cashed = time_value * cashed_share[j]
                cash = cashed + savings[j] * added_online[p, j]
                redeployed = time_value - cashed
                patient = (
                    contacts[j] * (1.0 - contact_exclusion[j]) * added * (per_contact[j] - induced[j]) * kept
                )
                dual = contacts[j] * added * contact_exclusion[j] * dual_cost[j]
                value = cash + redeployed + patient
                spend = spend_out[t, p, lo + j]
                running = running_out[t, p, lo + j]
                value_out[t, p, lo + j] = value
                cash_out[t, p, lo + j] = cash
                redeployed_out[t, p, lo + j] = redeployed
                patient_out[t, p, lo + j] = patient
                dual_out[t, p, lo + j] = dual
                net_out[t, p, lo + j] = value - spend - running - dual
                cumulative[j] += value
                pv_capital[j] += spend * discount
                pv_running[j] += running * discount
                pv_cash[j] += cash * discount
                pv_redeployed[j] += redeployed * discount
                pv_patient[j] += patient * discount
                pv_dual[j] += dual * discount
                if last_year and annuity > 0.0 and value > running + dual:
                    # the last year's net flow continues for the assets' remaining life
                    pv_residual[j] += (value - running - dual) * annuity
            if prog_idx[p, M.CONTACTS_PER_YEAR] == 0:
                continue  # no patients table: nothing to share out by segment
            # Patient benefits and dual running by the segment of the patients concerned: a
            # segment's share of contacts, included (benefits) or excluded (dual running).
            for s in range(n_segment):
                weight = segment_weight[s]
                quintile = segment_quintile[s]
                age = first_age + segment_age[s]
                for j in range(count):
                    level = segment_now[s, j]
                    flow = contacts[j] * weight * additional_out[t, p, lo + j] * discount
                    kept = 1.0 - care_share[j] * leakage[j]
                    benefit = flow * (1.0 - level) * (per_contact[j] - induced[j]) * kept
                    cost = flow * level * dual_cost[j]
                    patient_margin[quintile, j] += benefit
                    patient_margin[age, j] += benefit
                    dual_margin[quintile, j] += cost
                    dual_margin[age, j] += cost
        for j in range(count):
            cumulative_out[t, lo + j] = cumulative[j]
    pv_capital_out = outputs[M.OUT_PV_CAPITAL_COST]
    pv_running_out = outputs[M.OUT_PV_RUNNING_COST]
    pv_cash_out = outputs[M.OUT_PV_CASH_RELEASING]
    pv_redeployed_out = outputs[M.OUT_PV_NON_CASH_RELEASING]
    pv_patient_out = outputs[M.OUT_PV_PATIENT]
    pv_residual_out = outputs[M.OUT_PV_RESIDUAL_VALUE]
    pv_benefits_out = outputs[M.OUT_PV_BENEFITS]
    pv_costs_out = outputs[M.OUT_PV_COSTS]
    npv_out = outputs[M.OUT_NPV]
    bcr_out = outputs[M.OUT_BCR]
    pv_dual_out = outputs[M.OUT_PV_DUAL_RUNNING_COST]
    distributional_out = outputs[M.OUT_NPV_DISTRIBUTIONAL]
    margins = (
        (outputs[M.OUT_PV_PATIENT_BY_QUINTILE], patient_margin, 0),
        (outputs[M.OUT_PV_PATIENT_BY_AGE_BAND], patient_margin, first_age),
        (outputs[M.OUT_PV_DUAL_RUNNING_BY_QUINTILE], dual_margin, 0),
        (outputs[M.OUT_PV_DUAL_RUNNING_BY_AGE_BAND], dual_margin, first_age),
    )
    for out, margin, first in margins:
        for m in range(out.shape[0]):
            for j in range(count):
                out[m, lo + j] = margin[first + m, j]
    for j in range(count):
        benefits = pv_cash[j] + pv_redeployed[j] + pv_patient[j] + pv_residual[j]
        costs = pv_capital[j] + pv_running[j] + pv_dual[j]
        pv_dual_out[lo + j] = pv_dual[j]
        # Green Book weights (a premium of 0 without them: the NPV itself): staff time freed for
        # care is shared by quintile as NHS contacts are; the patient channel falls where its
        # segments say, so each quintile's share carries that quintile's weight
        weighted = distributional_uplift[0] * pv_redeployed[j]
        for q in range(distributional_uplift.shape[0] - 1):
            weighted += distributional_uplift[1 + q] * patient_margin[q, j]
        distributional_out[lo + j] = (benefits - costs) + weighted
        pv_capital_out[lo + j] = pv_capital[j]
        pv_running_out[lo + j] = pv_running[j]
        pv_cash_out[lo + j] = pv_cash[j]
        pv_redeployed_out[lo + j] = pv_redeployed[j]
        pv_patient_out[lo + j] = pv_patient[j]
        pv_residual_out[lo + j] = pv_residual[j]
        pv_benefits_out[lo + j] = benefits
        pv_costs_out[lo + j] = costs
        npv_out[lo + j] = benefits - costs
        bcr_out[lo + j] = benefits / costs if costs > 0.0 else 0.0


def simulate_kernel(
    start: np.uint64,
    span: Sequence[SupportsInt],
    *arguments: Any,
    span_kernel: Callable[..., None] | None = None,
    keep: Sequence[int] | None = None,
    keep_inputs: bool = True,
) -> None:
    """Sample and evaluate the draws at positions ``span = (offset, count)`` of the output arrays.

    Position ``i`` of the arrays holds draw ``start + i``; a call fills positions
    ``offset .. offset + count - 1`` (all of them: ``(0, n)``, n = length of the
    ``npv`` output), so a long run can be made in several calls, for a progress bar.

    The span is cut into pieces of :data:`CHUNK` draws (smaller ones, whole
    :data:`BLOCK` s, when that would leave a thread idle), and :func:`simulate_span`
    runs on each in a pool of ``numba.get_num_threads()`` threads (the jitted code
    releases the GIL). A thread samples a piece's inputs and evaluates the model on
    them while they are still in its cache. Every draw reads only its own counters,
    so the result is the same for any number of threads or piece size.

    ``arguments`` are the rest of :func:`simulate_span`'s, in order: ``sampling,
    codes, params, table_rows, tables, keys, store_rows, model, inputs_out,
    outputs`` (its ``work`` arrays are the running thread's own). ``span_kernel``
    replaces :func:`simulate_span` (its ``py_func``, in a test).

    ``keep`` lists the positions in ``outputs`` to fill (None: every one). Each
    piece of :data:`KEPT_PIECE` draws is then evaluated into the running thread's
    own scratch arrays and the kept outputs and the inputs are copied out, so the
    thread that computes a draw is the one that first touches its memory; the
    arrays given for the other outputs only give their shape (a draw axis of
    length 0 will do). The design of a ``DESIGN`` sampler is read at positions
    counted from the piece, so that sampler is run without ``keep``.
    ``keep_inputs=False`` (with ``keep``) leaves ``inputs_out`` unwritten: the
    inputs can be drawn again from their streams when they are read.
    """
    run_span = simulate_span if span_kernel is None else span_kernel
    offset, count = int(span[0]), int(span[1])
    arguments = (start, *arguments)
    end = offset + count
    threads = numba.get_num_threads()
    # A span shorter than a CHUNK per thread is shared out in smaller pieces (whole BLOCKs), so
    # that a short run (a waterfall's 135 runs of 5,000 draws) keeps every thread busy.
    size = min(CHUNK if keep is None else KEPT_PIECE, max(BLOCK, -(-count // (threads * BLOCK)) * BLOCK))
    pieces = [(np.int64(lo), np.int64(min(size, end - lo))) for lo in range(offset, end, size)]
    if keep is not None and int(arguments[1][0]) == DESIGN:
        raise ValueError("a DESIGN sampler reads its design by position: run it without 'keep'")
    run = _run_piece if keep is None else functools.partial(_run_piece_keeping, tuple(keep), keep_inputs)
    if threads == 1 or len(pieces) == 1:
        for piece in pieces:
            run(run_span, piece, arguments)
        return
    futures = [_pool(threads).submit(run, run_span, piece, arguments) for piece in pieces]
    try:
        for future in futures:
            future.result()
    except BaseException:
        # Ctrl-C in a notebook: drop the pieces not started, so the threads stop soon
        for future in futures:
            future.cancel()
        raise


def _run_piece(
    run_span: Callable[..., None], piece: tuple[np.int64, np.int64], arguments: tuple[Any, ...]
) -> None:
    """Run one piece on this thread, with this thread's work arrays (see :func:`_workspace`)."""
    run_span(piece, *arguments, _workspace(arguments))


def _run_piece_keeping(
    keep: tuple[int, ...],
    keep_inputs: bool,
    run_span: Callable[..., None],
    piece: tuple[np.int64, np.int64],
    arguments: tuple[Any, ...],
) -> None:
    """Run one piece into this thread's scratch arrays, then copy out the kept outputs and the inputs."""
    lo, count = int(piece[0]), int(piece[1])
    inputs_out, outputs = arguments[-2], arguments[-1]
    scratch_inputs, scratch = _scratch(inputs_out, outputs)  # room for KEPT_PIECE draws, the most a piece has
    # position 0 of the scratch arrays holds the piece's first draw
    moved = (arguments[0] + np.uint64(lo), *arguments[1:-2], scratch_inputs, scratch)
    run_span((np.int64(0), np.int64(count)), *moved, _workspace(moved))
    # NumPy lets go of the GIL while it copies, so the threads copy side by side
    if keep_inputs:
        inputs_out[:, lo : lo + count] = scratch_inputs[:, :count]
    for position in keep:
        outputs[position][..., lo : lo + count] = scratch[position][..., :count]


def _scratch(
    inputs_out: np.ndarray, outputs: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Return this thread's inputs and outputs for :data:`KEPT_PIECE` draws, made once for a shape."""
    size = KEPT_PIECE
    key = (size, inputs_out.shape[0], *((array.shape[:-1], array.dtype.str) for array in outputs))
    kept = getattr(_WORKSPACES, "scratch", None)
    if kept is None or kept[0] != key:
        arrays = tuple(np.empty((*array.shape[:-1], size), dtype=array.dtype) for array in outputs)
        kept = _WORKSPACES.scratch = (key, np.empty((inputs_out.shape[0], size)), arrays)
    return kept[1], kept[2]


_WORKSPACES = threading.local()


def _workspace(arguments: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    """Work arrays of :func:`simulate_span` for this thread, made once and reused.

    Arrays allocated afresh for every piece were first touched in every piece:
    the page faults (and, with transparent huge pages, the zeroing of whole 2 MB
    pages) cost about 7% of the kernel. A thread keeps the arrays of the last
    shape it ran, so chunks, sweeps and Sobol' blocks reuse them.
    """
    codes, model, sampling = arguments[2], arguments[8], arguments[1]
    n_copula = sampling[4].shape[0]
    # every shape block_scratch reads: inputs, copula, groups, (programme, year), segments and margins
    key = (
        codes.shape[0],
        n_copula,
        model[4].shape[0],
        *model[5].shape,
        model[11].shape[0],
        int(model[11].max()),
        int(model[12].max()),
    )
    kept = getattr(_WORKSPACES, "arrays", None)
    if kept is None or kept[0] != key:
        work = (np.empty((codes.shape[0], BLOCK)), np.empty((n_copula, RUN)), np.empty((n_copula, RUN)))
        kept = _WORKSPACES.arrays = (key, (*work, *block_scratch(model)))
    return kept[1]


_POOLS: dict[tuple[int, int], concurrent.futures.ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(threads: int) -> concurrent.futures.ThreadPoolExecutor:
    """Return this process's pool of ``threads`` worker threads, made on first use.

    Keyed by process id too: a child forked from a process that had a pool
    inherits the pool object but not its threads, and work sent to it would wait
    for ever.
    """
    key = (os.getpid(), threads)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="nhsrisk")
    return pool


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, nogil=True)
def simulate_span(
    span,
    start,
    sampling,
    codes,
    params,
    table_rows,
    tables,
    keys,
    store_rows,
    model,
    inputs_out,
    outputs,
    work,
):
    """Sample and evaluate the draws at positions ``span = (offset, count)``, on the calling thread.

    ``sampling`` is ``(sampler, design_size, design, design_rows, copula_rows,
    mixing)``: the sampler code and size of a Latin hypercube design (see
    :mod:`nhsrisk._design`), the matrix of uniforms read by the ``DESIGN``
    sampler (row ``design_rows[k]`` for input ``k``, one column per draw of this
    call), and the Gaussian copula of correlated inputs (their rows of
    ``inputs_out`` and the Cholesky factor; empty when nothing is correlated).
    ``model`` and ``outputs`` are the tuples named in :data:`MODEL_ARRAYS` and
    :data:`OUTPUT_ARRAYS`; ``inputs_out[row, draw]`` receives the inputs whose
    ``store_rows`` entry is ``row >= 0``. ``work`` is the thread's work arrays
    (see :func:`_workspace`): a block's gathered inputs ``(n_inputs, BLOCK)``, the
    copula's scores and mixed scores ``(n_copula, RUN)``, then the arrays of
    :func:`block_scratch`. Their contents on entry do not matter.

    Three phases. First every kept input is drawn for runs of :data:`RUN` draws
    straight into its row of ``inputs_out``, so that its inverse-CDF table stays
    in cache for the whole run. Correlated inputs are left as uniforms there, and
    a second phase correlates and transforms them a run at a time. Then each
    block of :data:`BLOCK` draws gathers its inputs (drawing the few unkept ones,
    such as raid events, on the spot) and evaluates the model.
    """
    sampler, design_size, design, design_rows, copula_rows, mixing = sampling
    x, scores, mixed = work[0], work[1], work[2]
    scratch = (work[3], work[4], work[5], work[6], work[7], work[8], work[9])
    offset, n = span
    n_inputs = codes.shape[0]
    n_stored = inputs_out.shape[0]
    n_copula = copula_rows.shape[0]
    stored_input = np.empty(n_stored, dtype=np.int64)
    for k in range(n_inputs):
        if store_rows[k] >= 0:
            stored_input[store_rows[k]] = k
    correlated = np.zeros(n_stored, dtype=np.bool_)
    for a in range(n_copula):
        correlated[copula_rows[a]] = True
    n_runs = (n + RUN - 1) // RUN
    end = offset + n
    for task in range(n_stored * n_runs):
        row = task // n_runs
        lo = offset + (task % n_runs) * RUN
        count = min(RUN, end - lo)
        k = stored_input[row]
        values = inputs_out[row, lo : lo + count]
        source_uniforms(
            sampler,
            np.uint64(start + lo),
            lo,
            keys[k, 0],
            keys[k, 1],
            design_size,
            design[design_rows[k] if sampler == DESIGN else 0],
            values,
            count,
        )
        if not correlated[row]:
            transform_uniforms(codes[k], params[k], tables[table_rows[k]], values, count)

    if n_copula > 0:
        for run in range(n_runs):
            lo = offset + run * RUN
            count = min(RUN, end - lo)
            for a in range(n_copula):
                copy_draws(inputs_out[copula_rows[a], lo : lo + count], scores[a], count)
                ndtri_many(scores[a], count)
            mix_normal_scores(scores, mixing, mixed, count)
            for a in range(n_copula):
                row = copula_rows[a]
                k = stored_input[row]
                values = inputs_out[row, lo : lo + count]
                copy_draws(mixed[a], values, count)
                if codes[k] == NORMAL or codes[k] == LOGNORMAL:
                    # straight from the correlated score: no round trip through its uniform
                    normal_scores_to_values(codes[k], params[k], values, count)
                else:
                    normal_scores_to_uniforms(values, count)
                    transform_uniforms(codes[k], params[k], tables[table_rows[k]], values, count)

    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in range(n_blocks):
        lo = offset + b * BLOCK
        count = min(BLOCK, end - lo)
        first = np.uint64(start + lo)
        for k in range(n_inputs):
            row = store_rows[k]
            if row >= 0:
                copy_draws(inputs_out[row, lo : lo + count], x[k], count)
            elif codes[k] == FIXED:
                value = params[k, 0]
                for j in range(count):
                    x[k, j] = value
            else:
                source_uniforms(
                    sampler,
                    first,
                    lo,
                    keys[k, 0],
                    keys[k, 1],
                    design_size,
                    design[design_rows[k] if sampler == DESIGN else 0],
                    x[k],
                    count,
                )
                transform_uniforms(codes[k], params[k], tables[table_rows[k]], x[k], count)
        evaluate_block(lo, count, x, model, scratch, outputs)
