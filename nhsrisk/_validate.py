"""Argument checks shared by the public API: one message format everywhere.

Messages follow ``The 'name' parameter of caller must be <allowed>. Got <value> instead.``
"""

from __future__ import annotations

import numbers
from typing import Any, SupportsInt, cast

import numpy as np

__all__ = ["check_count", "check_seed_int", "resolve_seed"]


def _message(name: str, caller: str, allowed: str, value: Any) -> str:
    return f"The {name!r} parameter of {caller} must be {allowed}. Got {value!r} instead."


def check_count(value: Any, name: str, caller: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int >= ``minimum``; accept integral floats such as ``1e6``."""
    if isinstance(value, bool):
        raise TypeError(_message(name, caller, f"an int >= {minimum}", value))
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, numbers.Real) and float(value).is_integer():
        # typeshed's numbers.Real declares no __int__, but int() takes any Real
        # (float, NumPy floats and Fraction define it; __trunc__ otherwise)
        number = int(cast(SupportsInt, value))
    else:
        raise TypeError(_message(name, caller, f"an int >= {minimum}", value))
    if number < minimum:
        raise ValueError(_message(name, caller, f"an int >= {minimum}", value))
    return number


def check_seed_int(seed: Any, caller: str) -> int:
    """Return ``seed`` as an int in [0, 2**128)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(_message("seed", caller, "an int in [0, 2**128) or None", seed))
    number = int(seed)
    if not 0 <= number < 2**128:
        raise ValueError(_message("seed", caller, "an int in [0, 2**128) or None", number))
    return number


def resolve_seed(seed: Any, caller: str) -> int:
    """Return an explicit int seed; ``None`` draws fresh OS entropy (recorded in the results)."""
    if seed is None:
        # entropy is typed int | Sequence[int] | None; drawn from the OS it is one int
        return int(cast(int, np.random.SeedSequence().entropy))
    return check_seed_int(seed, caller)
