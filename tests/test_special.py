"""The vectorised exp, log and pow of nhsrisk._special against numpy (libm)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from nhsrisk._design import clamp_unit, normal_scores_to_uniforms
from nhsrisk._special import exp, exp_many, log_many, ndtr, ndtr_many, pow_many

TINY = 2.2250738585072014e-308
SUBNORMAL = 5e-310


def ulps(got, want):
    """Distance in units in the last place, 0 where both are equal or both NaN."""
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    distance = np.abs(got.view(np.int64) - want.view(np.int64)).astype(float)
    return np.where(same, 0.0, distance)


def run_exp(x):
    out = np.array(x, dtype=float)
    exp_many(out, out.size)
    return out


def run_log(x):
    out = np.array(x, dtype=float)
    log_many(out, out.size)
    return out


def run_pow(x, y):
    x = np.array(x, dtype=float)
    y = np.broadcast_to(np.asarray(y, dtype=float), x.shape).copy()
    out = np.empty_like(x)
    pow_many(x, y, out, x.size)
    return out


@pytest.mark.parametrize(("low", "high"), [(-708.0, 708.0), (-1.0, 1.0), (-1e-6, 1e-6), (-30.0, 30.0)])
def test_exp_within_two_ulps(low, high):
    x = np.random.default_rng(1).uniform(low, high, 200_000)
    assert ulps(run_exp(x), np.exp(x)).max() <= 2


def test_exp_edges_are_libms():
    x = [0.0, -0.0, 1.0, 5e-324, -5e-324, 708.0, 709.7, 710.0, 1e300, -708.0, -720.0, -740.0, -746.0]
    x = np.concatenate([x, [np.inf, -np.inf, np.nan]])
    with np.errstate(over="ignore"):
        want = np.exp(x)
    got = run_exp(x)
    assert ulps(got, want).max() <= 2
    assert got[0] == 1.0 and got[1] == 1.0
    assert np.isinf(got[7]) and got[12] == 0.0 and got[-2] == 0.0 and np.isnan(got[-1])
    assert 0.0 < got[11] < TINY  # a subnormal result, from libm


@pytest.mark.parametrize(("low", "high"), [(-700.0, 700.0), (-1e-3, 1e-3), (-0.4, 0.4)])
def test_log_within_two_ulps(low, high):
    x = np.exp(np.random.default_rng(2).uniform(low, high, 200_000))
    assert ulps(run_log(x), np.log(x)).max() <= 2


def test_log_edges_are_libms():
    x = np.array([1.0, TINY, SUBNORMAL, 5e-324, 1e-300, 1e300, 1.7976931348623157e308, 2.0, 0.5, np.inf])
    got = run_log(x)
    assert ulps(got, np.log(x)).max() <= 2
    assert got[0] == 0.0
    zero = run_log(np.array([0.0]))
    assert zero[0] == -np.inf


@pytest.mark.parametrize(
    ("low", "high", "y_low", "y_high"),
    [
        (0.0, 1.0, 0.0, 3.0),
        (0.5, 1.0, -5.0, 5.0),
        (0.7, 1.4, -20.0, 20.0),
        (1e-300, 1e300, -0.02, 0.02),
        (1e-3, 1.0, 0.0, 1.0),
    ],
)
def test_pow_within_two_ulps(low, high, y_low, y_high):
    rng = np.random.default_rng(3)
    x = rng.uniform(low, high, 200_000)
    y = rng.uniform(y_low, y_high, 200_000)
    assert ulps(run_pow(x, y), np.power(x, y)).max() <= 2


def test_pow_edges_are_libms():
    x = np.array([0.0, 0.0, 0.0, 1.0, 1.0, SUBNORMAL, TINY, 1e300, 1e-300, 2.0, 0.5, np.inf, 1.0, 1e-10])
    y = np.array([2.0, 0.0, 0.5, 1e300, np.inf, 0.5, 0.5, 2.0, 2.0, -1100.0, 1100.0, 0.5, 0.0, 7.0])
    with np.errstate(over="ignore", under="ignore"):
        want = np.power(x, y)
    got = run_pow(x, y)
    assert ulps(got, want).max() <= 2
    assert got[0] == 0.0 and got[1] == 1.0 and got[3] == 1.0 and got[4] == 1.0
    assert np.isinf(got[7]) and got[8] == 0.0 and got[9] == 0.0 and got[10] == 0.0
    # exact where libm is exact: x**0 and 1**y on the vector path
    assert run_pow(np.array([0.3, 7.0, 1.0]), np.array([0.0, 0.0, 2.5])).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("n", [1, 3, 7, 8, 9, 15, 16, 17, 31, 64, 100, 513])
@pytest.mark.parametrize("offset", [0, 1, 5])
def test_vector_body_and_remainder_agree_bitwise(n, offset):
    """A value's result does not depend on where it falls: vector lane or scalar remainder."""
    rng = np.random.default_rng(n)
    x = rng.uniform(0.01, 1.0, 600)
    y = rng.uniform(-3.0, 3.0, 600)
    z = rng.uniform(-20.0, 20.0, 600)
    whole_pow, whole_exp, whole_log = run_pow(x, y), run_exp(z), run_log(x)
    part = slice(offset, offset + n)
    assert np.array_equal(run_pow(x[part], y[part]), whole_pow[part])
    assert np.array_equal(run_exp(z[part]), whole_exp[part])
    assert np.array_equal(run_log(x[part]), whole_log[part])
    for i in range(offset, offset + min(n, 9)):
        assert run_pow(x[i : i + 1], y[i : i + 1])[0] == whole_pow[i]
        assert run_exp(z[i : i + 1])[0] == whole_exp[i]
        assert run_log(x[i : i + 1])[0] == whole_log[i]


def test_pow_in_place():
    rng = np.random.default_rng(4)
    x = rng.uniform(0.0, 2.0, 1000)
    x[::97] = 0.0
    y = rng.uniform(-1.0, 2.0, 1000)
    want = run_pow(x, y)
    pow_many(x, y, x, x.size)
    assert np.array_equal(x, want)


def test_scalar_exp_is_bitwise_exp_many() -> None:
    """The scalar exp (used by the one-value inverse CDF) and exp_many give the same bits."""
    x = np.concatenate([np.random.default_rng(11).uniform(-750.0, 750.0, 4_000), [0.0, -708.0, 708.0, 709.5]])
    many = x.copy()
    exp_many(many, many.size)
    one = np.array([_scalar_exp(v) for v in x])
    assert np.array_equal(one.view(np.int64), many.view(np.int64))


@numba.njit
def _scalar_exp(x):
    return exp(x)


# ndtr_many: the vectorised normal CDF, and the copula's normal_scores_to_uniforms on it.

NDTR_EDGES = [0.0, -0.0, 1e-300, -1e-300, 0.5, -0.5, 4.0, -4.0, 8.3, -8.3, 37.0, -37.0, 40.0, -40.0]


def run_ndtr(z):
    out = np.array(z, dtype=float)
    ndtr_many(out, out.size)
    return out


@numba.njit
def _libm_ndtr(values):
    """The formula normal_scores_to_uniforms used before ndtr_many, without its clamp."""
    out = np.empty_like(values)
    for j in range(values.size):
        z = values[j]
        out[j] = 1.0 - ndtr(-z) if z > 0.0 else ndtr(z)
    return out


@numba.njit
def _old_normal_scores_to_uniforms(values, count):
    """normal_scores_to_uniforms as it was, on libm's erfc one value at a time."""
    for j in range(count):
        z = values[j]
        u = 1.0 - ndtr(-z) if z > 0.0 else ndtr(z)
        values[j] = clamp_unit(u)


def _ndtr_sample():
    rng = np.random.default_rng(21)
    z = np.concatenate([rng.normal(0.0, 1.5, 100_000), rng.uniform(-38.0, 38.0, 100_000), NDTR_EDGES])
    return np.concatenate([z, [np.inf, -np.inf]])


def test_ndtr_many_against_scipy() -> None:
    """Within a few ulps of scipy's ndtr, whose own far-tail error grows as x**2 (x = |z| / sqrt 2)."""
    special = pytest.importorskip("scipy.special")
    z = _ndtr_sample()
    got = run_ndtr(z)
    want = special.ndtr(z)
    # scipy flushes the subnormal lower tail beyond about -37.7 to zero, where libm does not
    normal = np.abs(z) <= 37.5
    assert (np.abs(got[~normal] - want[~normal]) < 1e-300).all()
    x2 = (z[normal] / np.sqrt(2.0)) ** 2
    assert (ulps(got[normal], want[normal]) <= 12.0 + x2).all()
    exact = run_ndtr(np.array([0.0, -0.0, np.inf, -np.inf, 40.0, -40.0]))
    assert exact.tolist() == [0.5, 0.5, 1.0, 0.0, 1.0, 0.0]
    assert np.isnan(run_ndtr(np.array([np.nan]))[0])


def test_ndtr_many_against_libm_formula() -> None:
    """Both tails within 4 ulps of 1 - ndtr(-z) / ndtr(z) on libm's erfc (itself within 3.3 of erfc)."""
    z = _ndtr_sample()
    got = run_ndtr(z)
    assert ulps(got, _libm_ndtr(z)).max() <= 4
    assert ulps(got[z < 0], _libm_ndtr(z[z < 0])).mean() < 0.6


@pytest.mark.parametrize("n", [1, 3, 7, 8, 9, 15, 16, 17, 31, 64, 100, 513])
@pytest.mark.parametrize("offset", [0, 1, 5])
def test_ndtr_many_vector_body_and_remainder_agree_bitwise(n, offset) -> None:
    """A value's result does not depend on where it falls: vector lane, remainder or far pass."""
    rng = np.random.default_rng(100 + n)
    z = rng.normal(0.0, 3.0, 600)
    z[::37] = rng.uniform(-40.0, 40.0, z[::37].size)
    whole = run_ndtr(z)
    part = slice(offset, offset + n)
    assert np.array_equal(run_ndtr(z[part]).view(np.int64), whole[part].view(np.int64))
    for i in range(offset, offset + min(n, 9)):
        assert run_ndtr(z[i : i + 1])[0] == whole[i]


def test_normal_scores_to_uniforms_against_old_formula() -> None:
    """Within a few ulps of the libm-based formula it replaced, both tails; the clamp as before."""
    z = np.concatenate([_ndtr_sample()[:-2], np.linspace(-38.0, 38.0, 20_001)])
    got = z.copy()
    normal_scores_to_uniforms(got, got.size)
    want = z.copy()
    _old_normal_scores_to_uniforms(want, want.size)
    assert ulps(got, want).max() <= 4
    assert got.min() == 2.0**-53 and got.max() == 1.0 - 2.0**-53
    assert (got[z <= -37.5] == 2.0**-53).all() and (got[z >= 8.3] == 1.0 - 2.0**-53).all()
