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

from nhsrisk._config import NUMBA_CACHE
from nhsrisk._special import ndtri

FIXED = 0
UNIFORM = 1
TRIANGULAR = 2
BETA_TABLE = 3
NORMAL = 4
TRUNCNORMAL = 5
LOGNORMAL = 6
BERNOULLI = 7
DISCRETE = 8

N_PARAMS = 4
#: Doubles before the first record of an inversion table row (see
#: nhsrisk.distributions._inversion_table): [n_cells, n_guide, 0 x 6].
TABLE_HEADER = 8
RECORD = 8


@numba.njit(cache=NUMBA_CACHE, inline="always")
def hermite_inverse(table, u):
    """Piecewise quintic Hermite inverse CDF stored in ``table`` (one 8-double record per cell)."""
    n_cells = int(table[0])
    n_guide = int(table[1])
    guide_at = TABLE_HEADER + RECORD * n_cells
    bucket = int(u * n_guide)
    if bucket >= n_guide:
        bucket = n_guide - 1
    cell = int(table[guide_at + bucket])
    at = TABLE_HEADER + RECORD * cell
    while cell < n_cells - 1 and u > table[at + 1]:
        cell += 1
        at += RECORD
    u0 = table[at]
    x0 = table[at + 2]
    x1 = table[at + 3]
    s = (u - u0) / (table[at + 1] - u0)
    s2 = s * s
    s3 = s2 * s
    r = 1.0 - s
    r2 = r * r
    x = (
        x0
        + (x1 - x0) * s3 * (10.0 - 15.0 * s + 6.0 * s2)
        + table[at + 4] * s * r2 * r * (1.0 + 3.0 * s)
        - table[at + 5] * s3 * r * (4.0 - 3.0 * s)
        + 0.5 * table[at + 6] * s2 * r2 * r
        + 0.5 * table[at + 7] * s3 * r2
    )
    # The construction checks monotonicity; the clamp only guards the last ulp.
    if x < x0:
        return x0
    if x > x1:
        return x1
    return x


@numba.njit(cache=NUMBA_CACHE)
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
        # params: location, signed scale, base, width (see TruncatedNormal.kernel_spec)
        return params[0] + params[1] * ndtri(params[2] + u * params[3])
    if code == LOGNORMAL:
        return math.exp(params[0] + params[1] * ndtri(u))
    if code == BERNOULLI:
        return 1.0 if u > params[0] else 0.0
    if code == DISCRETE:
        n_values = int(params[0])
        for j in range(n_values - 1):
            if u <= table[j]:
                return table[n_values + j]
        return table[2 * n_values - 1]
    return np.nan  # unreachable: codes are validated in Python


@numba.njit(cache=NUMBA_CACHE)
def inverse_cdf_many(code, params, table, uniforms, out):
    """Apply :func:`inverse_cdf` elementwise (used by ``Distribution.kernel_ppf``)."""
    for i in range(uniforms.shape[0]):
        out[i] = inverse_cdf(code, params, table, uniforms[i])
