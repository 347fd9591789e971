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
import math
import os
import threading

import numba
import numpy as np

from nhsrisk._config import NUMBA_CACHE
from nhsrisk._design import DESIGN, gaussian_copula, source_uniforms
from nhsrisk._rng import fill_uniforms
from nhsrisk._sampling import FIXED, transform_uniforms

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

#: Order of the model arrays passed to the kernels (built by nhsrisk._plan.Plan).
MODEL_ARRAYS = (
    "risk_idx",
    "year_idx",
    "prog_idx",
    "pg_idx",
    "group_idx",
    "planned_spend",
    "last_funded",
    "discount_factor",
)
#: Order of the output arrays passed to the kernels (see nhsrisk.simulation.OUTPUTS).
OUTPUT_ARRAYS = (
    "raid",
    "spend",
    "funding_adequacy",
    "uptake",
    "hours_released",
    "hours_capped",
    "value",
    "cash_releasing_value",
    "net_benefit",
    "cumulative_value",
    "npv",
    "bcr",
)

#: Draws per task when kept inputs are sampled (one input, one inverse-CDF table, per task).
RUN = 4096
#: Draws per work item of the parallel model loop. Inputs and scratch live in
#: (n_inputs, BLOCK) arrays, so every inner loop runs over draws.
BLOCK = 512
#: Draws per piece of work handed to a thread: a piece's kept inputs (8 bytes x
#: inputs x CHUNK) are read back by the model while still in the thread's cache.
CHUNK = 8192


@numba.njit(cache=NUMBA_CACHE, inline="always")
def draw_input(first, code, params, table, k0, k1, values, count):
    """Draws ``first .. first + count - 1`` of one input's stream into ``values[:count]``."""
    fill_uniforms(first, k0, k1, values, count)
    transform_uniforms(code, params, table, values, count)


@numba.njit(cache=NUMBA_CACHE)
def sample_stream(code, params, table, k0, k1, start, out):
    """Fill ``out`` with draws ``start, start+1, ...`` of one input's stream."""
    n = out.shape[0]
    for lo in range(0, n, RUN):
        count = min(RUN, n - lo)
        draw_input(np.uint64(start + lo), code, params, table, k0, k1, out[lo : lo + count], count)


@numba.njit(cache=NUMBA_CACHE, inline="always")
def copy_draws(source, target, count):
    """``target[:count] = source[:count]``, as a loop: numba compiles slice assignment slowly."""
    for j in range(count):
        target[j] = source[j]


@numba.njit(cache=NUMBA_CACHE, inline="always")
def zero_draws(target, count):
    """``target[:count] = 0.0``, as a loop (see :func:`copy_draws`)."""
    for j in range(count):
        target[j] = 0.0


@numba.njit(cache=NUMBA_CACHE)
def block_scratch(model):
    """Work arrays for :func:`evaluate_block`: vectors, per programme and group, per group."""
    _, _, _, _, group_idx, planned_spend, _, _ = model
    n_prog = planned_spend.shape[0]
    n_group = group_idx.shape[0]
    return (np.empty((7, BLOCK)), np.empty((n_prog, n_group, BLOCK)), np.empty((n_group, BLOCK)))


@numba.njit(cache=NUMBA_CACHE)
def evaluate_block(lo, count, x, model, scratch, outputs):
    """Evaluate the structural model for draws ``lo .. lo + count - 1``.

    ``x[k, j]`` holds input ``k`` of draw ``lo + j``. ``model`` is the tuple of
    arrays named in :data:`MODEL_ARRAYS` (``planned_spend`` has shape
    (programme, year)); ``outputs`` the tuple named in :data:`OUTPUT_ARRAYS`,
    indexed ``[year, programme(, staff_group), draw]``: draws last, so every
    inner loop here writes contiguous memory. ``scratch`` is the tuple of work
    arrays made by :func:`block_scratch`. The equations are in docs/model.md.
    """
    risk_idx, year_idx, prog_idx, pg_idx, group_idx, planned_spend, last_funded, discount_factor = model
    (
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
    ) = outputs
    n_prog, n_year = planned_spend.shape
    n_group = group_idx.shape[0]
    vectors, full_uptake_hours, releasable = scratch
    cut = vectors[0]
    total = vectors[1]
    pv_value = vectors[2]
    pv_spend = vectors[3]
    cumulative = vectors[4]
    year_value = vectors[5]
    actual_spend = vectors[6]

    # Budget raids: the money taken does not come back.
    raid_probability = x[risk_idx[RAID_PROBABILITY]]
    for t in range(n_year):
        event = x[year_idx[t, RAID_EVENT]]
        fraction = x[year_idx[t, RAID_FRACTION]]
        for j in range(count):
            raid = event[j] < raid_probability[j]
            raid_out[t, lo + j] = raid
            cut[j] = fraction[j] if raid else 0.0
        for p in range(n_prog):
            exposure = x[prog_idx[p, RAID_EXPOSURE]]
            planned = planned_spend[p, t]
            for j in range(count):
                spend_out[t, p, lo + j] = planned * (1.0 - cut[j] * exposure[j])

    # Funding adequacy and uptake S-curves.
    swan = x[risk_idx[BLACK_SWAN]]
    swan_overrun = x[risk_idx[BLACK_SWAN_OVERRUN]]
    body_overrun = x[risk_idx[COST_OVERRUN]]
    delay = x[risk_idx[DELIVERY_DELAY]]
    capacity = x[risk_idx[STAFF_CAPACITY]]
    elasticity = x[risk_idx[FUNDING_ELASTICITY]]
    for p in range(n_prog):
        planned_total = 0.0
        for t in range(n_year):
            planned_total += planned_spend[p, t]
        ceiling = x[prog_idx[p, UPTAKE_CEILING]]
        midpoint = x[prog_idx[p, UPTAKE_MIDPOINT]]
        lag = x[prog_idx[p, REALISATION_LAG]]
        steepness = x[prog_idx[p, UPTAKE_STEEPNESS]]
        decay = x[prog_idx[p, BENEFIT_DECAY]]
        zero_draws(actual_spend, count)
        for t in range(n_year):
            for j in range(count):
                actual_spend[j] += spend_out[t, p, lo + j]
        for j in range(count):
            actual = actual_spend[j]
            overrun = swan_overrun[j] if swan[j] > 0.5 else body_overrun[j]
            if actual > 0.0:
                adequacy = min(1.0, actual / (overrun * planned_total))
                funding_factor = adequacy ** elasticity[j]
            else:
                adequacy = 0.0
                funding_factor = 0.0  # no money, no technology, whatever the elasticity
            adequacy_out[p, lo + j] = adequacy
            level_max = ceiling[j] * capacity[j] * funding_factor
            shift = midpoint[j] + lag[j] + delay[j]
            keep = 1.0 - decay[j]
            for t in range(n_year):
                level = level_max / (1.0 + math.exp(-(t - shift) * steepness[j]))
                if level > 1.0:
                    level = 1.0
                years_after = t - last_funded[p]
                if years_after > 0:
                    level *= keep**years_after
                uptake_out[t, p, lo + j] = level

    # Staff time released (capped per staff group), value, discounting.
    redeployed = x[risk_idx[REDEPLOYMENT_FRACTION]]
    exclusion = x[risk_idx[DIGITAL_EXCLUSION]]
    leakage = x[risk_idx[SOCIAL_CARE_LEAKAGE]]
    zero_draws(pv_value, count)
    zero_draws(pv_spend, count)
    zero_draws(cumulative, count)
    # Year-independent factors, once per block: hours a programme releases at full
    # uptake, FTE x hours x addressable x recovered, and each group's releasable time.
    for g in range(n_group):
        fte = x[group_idx[g, FTE]]
        hours = x[group_idx[g, HOURS_PER_FTE]]
        share = x[group_idx[g, MAX_RELEASE_SHARE]]
        for j in range(count):
            releasable[g, j] = fte[j] * hours[j] * share[j]
        for p in range(n_prog):
            a = pg_idx[p, g, ADDRESSABLE_SHARE]
            if a < 0:
                zero_draws(full_uptake_hours[p, g], count)
                continue
            addressable = x[a]
            recovered = x[pg_idx[p, g, RECOVERED_FRACTION]]
            for j in range(count):
                full_uptake_hours[p, g, j] = fte[j] * hours[j] * addressable[j] * recovered[j]
    for t in range(n_year):
        for g in range(n_group):
            zero_draws(total, count)
            for p in range(n_prog):
                for j in range(count):
                    h = full_uptake_hours[p, g, j] * uptake_out[t, p, lo + j]
                    hours_out[t, p, g, lo + j] = h
                    total[j] += h
            for j in range(count):
                available = releasable[g, j]
                binding = total[j] > available
                capped_out[t, g, lo + j] = binding
                if binding:
                    scale = available / total[j]
                    for p in range(n_prog):
                        hours_out[t, p, g, lo + j] *= scale
        zero_draws(year_value, count)
        for p in range(n_prog):
            contacts = x[prog_idx[p, CONTACTS_PER_YEAR]]
            per_contact = x[prog_idx[p, VALUE_PER_CONTACT]]
            care_share = x[prog_idx[p, SOCIAL_CARE_SHARE]]
            cash_share = x[prog_idx[p, CASH_RELEASING_FRACTION]]
            zero_draws(total, count)
            for g in range(n_group):
                cost = x[group_idx[g, COST_PER_HOUR]]
                for j in range(count):
                    total[j] += hours_out[t, p, g, lo + j] * cost[j]
            for j in range(count):
                staff_value = total[j]
                patient_value = contacts[j] * (1.0 - exclusion[j]) * uptake_out[t, p, lo + j] * per_contact[j]
                value = (staff_value * redeployed[j] + patient_value) * (1.0 - care_share[j] * leakage[j])
                spend = spend_out[t, p, lo + j]
                value_out[t, p, lo + j] = value
                cash_out[t, p, lo + j] = value * cash_share[j]
                net_out[t, p, lo + j] = value - spend
                year_value[j] += value
                pv_value[j] += value * discount_factor[t]
                pv_spend[j] += spend * discount_factor[t]
        for j in range(count):
            cumulative[j] += year_value[j]
            cumulative_out[t, lo + j] = cumulative[j]
    for j in range(count):
        npv_out[lo + j] = pv_value[j] - pv_spend[j]
        bcr_out[lo + j] = pv_value[j] / pv_spend[j] if pv_spend[j] > 0.0 else 0.0


def simulate_kernel(start, span, *arguments, span_kernel=None):
    """Sample and evaluate the draws at positions ``span = (offset, count)`` of the output arrays.

    Position ``i`` of the arrays holds draw ``start + i``; a call fills positions
    ``offset .. offset + count - 1`` (all of them: ``(0, n)``, n = length of the
    ``npv`` output), so a long run can be made in several calls, for a progress bar.

    The span is cut into pieces of :data:`CHUNK` draws, and :func:`simulate_span`
    runs on each in a pool of ``numba.get_num_threads()`` threads (the jitted code
    releases the GIL). A thread samples a piece's inputs and evaluates the model on
    them while they are still in its cache. Every draw reads only its own counters,
    so the result is the same for any number of threads or piece size.

    ``arguments`` are the rest of :func:`simulate_span`'s, in order: ``sampling,
    codes, params, table_rows, tables, keys, store_rows, model, inputs_out,
    outputs``. ``span_kernel`` replaces :func:`simulate_span` (its ``py_func``,
    in a test).
    """
    run_span = simulate_span if span_kernel is None else span_kernel
    offset, count = int(span[0]), int(span[1])
    arguments = (start, *arguments)
    end = offset + count
    pieces = [(np.int64(lo), np.int64(min(CHUNK, end - lo))) for lo in range(offset, end, CHUNK)]
    threads = numba.get_num_threads()
    if threads == 1 or len(pieces) == 1:
        for piece in pieces:
            run_span(piece, *arguments)
        return
    futures = [_pool(threads).submit(run_span, piece, *arguments) for piece in pieces]
    try:
        for future in futures:
            future.result()
    except BaseException:
        # Ctrl-C in a notebook: drop the pieces not started, so the threads stop soon
        for future in futures:
            future.cancel()
        raise


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


@numba.njit(cache=NUMBA_CACHE, nogil=True)
def simulate_span(
    span, start, sampling, codes, params, table_rows, tables, keys, store_rows, model, inputs_out, outputs
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
    ``store_rows`` entry is ``row >= 0``.

    Three phases. First every kept input is drawn for runs of :data:`RUN` draws
    straight into its row of ``inputs_out``, so that its inverse-CDF table stays
    in cache for the whole run. Correlated inputs are left as uniforms there, and
    a second phase correlates and transforms them a run at a time. Then each
    block of :data:`BLOCK` draws gathers its inputs (drawing the few unkept ones,
    such as raid events, on the spot) and evaluates the model.
    """
    sampler, design_size, design, design_rows, copula_rows, mixing = sampling
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
        uniforms = np.empty((n_copula, RUN))
        normals = np.empty(n_copula)
        for run in range(n_runs):
            lo = offset + run * RUN
            count = min(RUN, end - lo)
            for a in range(n_copula):
                copy_draws(inputs_out[copula_rows[a], lo : lo + count], uniforms[a], count)
            gaussian_copula(uniforms, mixing, normals, count)
            for a in range(n_copula):
                row = copula_rows[a]
                k = stored_input[row]
                values = inputs_out[row, lo : lo + count]
                copy_draws(uniforms[a], values, count)
                transform_uniforms(codes[k], params[k], tables[table_rows[k]], values, count)

    n_blocks = (n + BLOCK - 1) // BLOCK
    x = np.empty((n_inputs, BLOCK))
    scratch = block_scratch(model)
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
