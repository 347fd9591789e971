"""Counter-based random numbers: Philox4x32-10 keyed by (seed, input name).

Each uncertain input of a scenario has its own stream key, derived from the
seed and the input's *name* (its key path, such as ``"risks.digital_exclusion"``).
The uniform for draw ``i`` of that input is a pure function of ``(key, i)``.
This is what makes results independent of thread count, chunking and the
order or number of other inputs (Salmon et al., "Parallel random numbers: as
easy as 1, 2, 3", SC'11; the same generator as :class:`numpy.random.Philox`).
"""

from __future__ import annotations

import hashlib

import numba
import numpy as np

from nhsrisk._config import NUMBA_CACHE

_PHILOX_M0 = np.uint64(0xD2511F53)
_PHILOX_M1 = np.uint64(0xCD9E8D57)
_PHILOX_W0 = np.uint64(0x9E3779B9)
_PHILOX_W1 = np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_SHIFT11 = np.uint64(11)
_TWO_POW_M53 = 2.0**-53


def stream_key(seed: int, name: str) -> tuple[int, int]:
    """Return the two 32-bit Philox key words for one named input.

    Parameters
    ----------
    seed : int
        Non-negative run seed.
    name : str
        The input's key path, for example ``"risks.digital_exclusion"``.

    Returns
    -------
    tuple of int
        ``(k0, k1)``, each in ``[0, 2**32)``.

    Examples
    --------
    >>> stream_key(1, "risks.digital_exclusion") == stream_key(1, "risks.digital_exclusion")
    True
    >>> stream_key(1, "a") != stream_key(2, "a")
    True
    """
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8, key=seed.to_bytes(32, "little")).digest()
    word = int.from_bytes(digest, "little")
    return word & 0xFFFFFFFF, word >> 32


@numba.njit(cache=NUMBA_CACHE, inline="always")
def _philox_rounds(c0, c1, c2, c3, k0, k1):
    """Ten Philox4x32 rounds on the counter words under the key words (all < 2**32)."""
    for _ in range(10):
        p0 = _PHILOX_M0 * c0
        p1 = _PHILOX_M1 * c2
        hi0 = p0 >> _SHIFT32
        hi1 = p1 >> _SHIFT32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, p1 & _MASK32, hi0 ^ c3 ^ k1, p0 & _MASK32
        k0 = (k0 + _PHILOX_W0) & _MASK32
        k1 = (k1 + _PHILOX_W1) & _MASK32
    return c0, c1, c2, c3


@numba.njit(cache=NUMBA_CACHE, inline="always")
def philox_uniform(draw, k0, k1):
    """Uniform on the open interval (0, 1) for counter ``draw`` under key ``(k0, k1)``.

    Runs Philox4x32-10 on the counter ``(draw_lo, draw_hi, 0, 0)`` and builds a
    53-bit double from the first two output words, offset by half a step so
    that neither 0 nor 1 can occur (inverse CDFs of unbounded laws stay finite).
    """
    zero = np.uint64(0)
    c0, c1, _, _ = _philox_rounds(draw & _MASK32, draw >> _SHIFT32, zero, zero, k0, k1)
    bits = (c0 << _SHIFT32) | c1
    return ((bits >> _SHIFT11) + 0.5) * _TWO_POW_M53


@numba.njit(cache=NUMBA_CACHE)
def philox4x32_block(counter, key, out):
    """Write the four Philox4x32-10 output words for one counter into ``out``.

    Exposed to check the generator against the Random123 known-answer vectors.
    """
    c0, c1, c2, c3 = _philox_rounds(
        np.uint64(counter[0]),
        np.uint64(counter[1]),
        np.uint64(counter[2]),
        np.uint64(counter[3]),
        np.uint64(key[0]),
        np.uint64(key[1]),
    )
    out[0] = c0
    out[1] = c1
    out[2] = c2
    out[3] = c3
