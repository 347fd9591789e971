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

#: Number of equal-probability cells of the Beta/PERT inverse-CDF tables.
BETA_TABLE_CELLS = 8192
N_PARAMS = 4


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
        position = u * BETA_TABLE_CELLS
        cell = int(position)
        if cell >= BETA_TABLE_CELLS:
            cell = BETA_TABLE_CELLS - 1
        frac = position - cell
        standard = table[cell] + frac * (table[cell + 1] - table[cell])
        return params[0] + params[1] * standard
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
