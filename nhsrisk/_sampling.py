"""Jitted inverse CDFs: one uniform in, one value out, for every distribution kind.

Every input of a scenario is sampled by inversion, so the same code serves the
counter-based Monte Carlo stream and any externally supplied matrix of uniforms
(Latin hypercube, Sobol). Parameters arrive pre-digested from
:meth:`nhsrisk.distributions.Distribution.kernel_spec`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from nhsrisk._config import ERROR_MODEL, NUMBA_CACHE
from nhsrisk._special import exp, exp_many, fma, ndtri, ndtri_many

FIXED = 0
UNIFORM = 1
TRIANGULAR = 2
BETA_TABLE = 3
NORMAL = 4
TRUNCNORMAL = 5
LOGNORMAL = 6
BERNOULLI = 7
DISCRETE = 8

N_PARAMS = 5
#: Doubles before the first record of an inversion table row (see
#: nhsrisk.distributions._build_inversion_table): [n_buckets, n_sub, n_searched, 0 x 5].
TABLE_HEADER = 8
RECORD = 8


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _hermite_cell(table, at, u):
    """Evaluate the quintic of the cell whose record starts at ``table[at]`` at ``u``, clipped to [0, 1].

    Horner's rule in fused multiply-adds: one rounding a step instead of two,
    and half the latency, which is what a Beta value costs once a far bucket's
    mispredicted branch has emptied the pipeline (3.4 against 4.4-5.4 ns a
    value, 2026-12-07). The table's cells are checked with this same function
    (:func:`hermite_cells_at`), so the accuracy bound holds for these bits.
    """
    s = (u - table[at]) * table[at + 1]
    x = fma(s, table[at + 7], table[at + 6])
    x = fma(s, x, table[at + 5])
    x = fma(s, x, table[at + 4])
    x = fma(s, x, table[at + 3])
    x = fma(s, x, table[at + 2])
    return min(max(x, 0.0), 1.0)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def hermite_cells_at(records, u, out):
    """``out[i, j]``: the cell ``records[i]`` (a kernel record, 8 doubles) evaluated at ``u[i, j]``.

    The kernel's own arithmetic (:func:`_hermite_cell`), for the table builder's checks.
    """
    for i in range(u.shape[0]):
        for j in range(u.shape[1]):
            out[i, j] = _hermite_cell(records[i], 0, u[i, j])


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _bucket_record(n_buckets, u):
    """Start of the record of ``u``'s bucket in a table of ``n_buckets`` equal buckets of probability."""
    return TABLE_HEADER + RECORD * min(int(u * n_buckets), n_buckets - 1)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def hermite_inverse(table, u):
    """Standard-Beta quantile at ``u`` from an inversion table (see ``TABLE_HEADER``).

    The bucket's record is the cell itself, found by one multiplication, except
    in a far bucket (marked by a negative width: the tails), whose sub-cells
    are found the same way (see :func:`_far_inverse`).
    """
    return _bucket_inverse(table, int(table[0]), u)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _bucket_inverse(table, n_buckets, u):
    """:func:`hermite_inverse` with the table's bucket count already read."""
    at = _bucket_record(n_buckets, u)
    if table[at + 1] > 0.0:
        return _hermite_cell(table, at, u)
    return _far_inverse(table, at, u)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _far_inverse(table, bucket, u):
    """:func:`hermite_inverse` in the far bucket whose record is at ``table[bucket]``.

    Its equal sub-cells are found by a multiplication (``u - u0`` is exact: u is
    within a factor 2 of u0, or u0 is 0; the scale is a power of two); a
    sub-cell marked by a negative width is searched cell by cell.
    """
    n_buckets = int(table[0])
    n_sub = int(table[1])
    n_cells = int(table[2])
    sub = int(table[bucket + 2]) + min(
        int((u - table[bucket]) * table[bucket + 3]), int(table[bucket + 4]) - 1
    )
    at = TABLE_HEADER + RECORD * (n_buckets + sub)
    if table[at + 1] > 0.0:
        return _hermite_cell(table, at, u)
    cell = int(table[at + 2])
    at = TABLE_HEADER + RECORD * (n_buckets + n_sub + cell)
    while cell < n_cells - 1 and u >= table[at + RECORD]:
        cell += 1
        at += RECORD
    return _hermite_cell(table, at, u)


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def hermite_inverse_many(table, low, width, values, count):
    """``low + width * hermite_inverse(table, u)`` for every ``u`` in ``values[:count]``, in place.

    A plain loop: setting the few far-bucket values aside for a second loop (to
    spare the CPU a mispredicted branch) measured slower than the branch itself,
    4.4 against 4.0 ns a value for Beta(2, 5), 7% of whose uniforms fall in far buckets.
    Re-measured with fused cells over the default's 98 tables (2026-12-07): the
    branch 3.3-3.4 ns; a branch-free select of the far sub-cell 5.5-7.3; 512 or
    1,024 buckets (3.2% and 1.7% of values in far buckets) 3.1 and 3.5 against 3.1.
    """
    # read once: the stores below might alias the table for all the compiler knows
    n_buckets = int(table[0])
    for i in range(count):
        values[i] = low + width * _bucket_inverse(table, n_buckets, values[i])


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL, inline="always")
def _discrete_value(table, n_values, u):
    """Value of a Discrete at ``u``: table holds the cumulative probabilities, then the values.

    The value's index is the number of cumulative probabilities below ``u``, counted
    without a branch (the first with ``u <= cumulative``, as the probabilities ascend).
    """
    index = 0
    for j in range(n_values - 1):
        index += u > table[j]
    return table[n_values + index]


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def inverse_cdf(code, params, table, u):
    """Value at quantile ``u`` in (0, 1) of the distribution ``(code, params, table)``.

    ``table`` is the distribution's row of the shared table array (used by
    BETA_TABLE and DISCRETE only).
    """
    if code == FIXED:
        return params[0]
    if code == UNIFORM:
        return params[0] + u * params[1]
    if code == TRIANGULAR:
        low = params[0]
        mode = params[1]
        high = params[2]
        if u < params[3]:
            return low + math.sqrt(u * (high - low) * (mode - low))
        return high - math.sqrt((1.0 - u) * (high - low) * (high - mode))
    if code == BETA_TABLE:
        return params[0] + params[1] * hermite_inverse(table, u)
    if code == NORMAL:
        return params[0] + params[1] * ndtri(u)
    if code == TRUNCNORMAL:
        # params: location, signed scale, base, width, upper base (see TruncatedNormal.kernel_spec).
        # Past the median, work from the upper end: ndtri near 1 would lose the tail.
        q = params[2] + u * params[3]
        if q <= 0.5:
            return params[0] + params[1] * ndtri(q)
        return params[0] - params[1] * ndtri(params[4] + (1.0 - u) * params[3])
    if code == LOGNORMAL:
        return exp(params[0] + params[1] * ndtri(u))
    if code == BERNOULLI:
        return 1.0 if u > params[0] else 0.0
    if code == DISCRETE:
        return _discrete_value(table, int(params[0]), u)
    return np.nan  # unreachable: codes are validated in Python


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def transform_uniforms(code, params, table, values, count):
    """Replace the uniforms ``values[:count]`` by their quantiles, in place.

    The same arithmetic as :func:`inverse_cdf`, with the kind tested once per
    call so that the simple kinds run as straight loops the compiler vectorises.
    """
    if code == UNIFORM:
        low = params[0]
        width = params[1]
        for i in range(count):
            values[i] = low + values[i] * width
    elif code == NORMAL or code == LOGNORMAL:
        ndtri_many(values, count)
        normal_scores_to_values(code, params, values, count)
    elif code == BERNOULLI:
        threshold = params[0]
        for i in range(count):
            values[i] = 1.0 if values[i] > threshold else 0.0
    elif code == BETA_TABLE:
        hermite_inverse_many(table, params[0], params[1], values, count)
    elif code == DISCRETE:
        n_values = int(params[0])
        for i in range(count):
            values[i] = _discrete_value(table, n_values, values[i])
    else:
        for i in range(count):
            values[i] = inverse_cdf(code, params, table, values[i])


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def normal_scores_to_values(code, params, values, count):
    """Replace the standard normal scores ``values[:count]`` of a NORMAL or LOGNORMAL input by its values.

    The second half of their inversion (``mean + sd z``, ``exp(mu + sigma z)``);
    the Gaussian copula calls it on its correlated scores directly.
    """
    if code == NORMAL:
        mean = params[0]
        sd = params[1]
        for i in range(count):
            values[i] = mean + sd * values[i]
    else:
        mu = params[0]
        sigma = params[1]
        for i in range(count):
            values[i] = mu + sigma * values[i]
        exp_many(values, count)


def inverse_cdf_many(
    code: int, params: np.ndarray, table: np.ndarray, uniforms: np.ndarray, out: np.ndarray
) -> None:
    """Quantiles of ``uniforms`` into ``out`` (used by ``Distribution.kernel_ppf``).

    Read-only arrays (cached Beta tables are) are passed on as writable copies:
    the kernel's arrays are writable, so the compiled :func:`transform_uniforms`
    then serves both, and a fresh process compiles it once instead of twice.
    """
    _inverse_cdf_many(np.int64(code), _writable(params), _writable(table), _writable(uniforms), out)


def _writable(array: np.ndarray) -> np.ndarray:
    return array if array.flags.writeable else array.copy()


@numba.njit(cache=NUMBA_CACHE, error_model=ERROR_MODEL)
def _inverse_cdf_many(code, params, table, uniforms, out):
    # a plain loop: a slice assignment costs seconds of compile in numba's generic code
    for i in range(out.shape[0]):
        out[i] = uniforms[i]
    transform_uniforms(code, params, table, out, out.shape[0])
