"""Argument checks shared by the public API: one message format everywhere.

Messages follow ``The 'name' parameter of caller must be <allowed>. Got <value> instead.``
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, SupportsInt, cast

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "WEIGHT",
    "check_count",
    "check_names",
    "check_seed_int",
    "draw_weights",
    "refuse_weighted",
    "resolve_seed",
    "same_weights",
]

#: Name of the coordinate (on ``draw``) that holds the importance weights of updated results
#: (:func:`nhsrisk.update`); it travels with every variable taken from them.
WEIGHT = "weight"


def _message(name: str, caller: str, allowed: str, value: Any) -> str:
    return f"The {name!r} parameter of {caller} must be {allowed}. Got {value!r} instead."


def _described(name: str, caller: str, allowed: str, got: str) -> str:
    """Format the project's message for a ``got`` that describes the value rather than being it."""
    return f"The {name!r} parameter of {caller} must be {allowed}. Got {got} instead."


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


def check_names(
    value: Any, allowed: Sequence[str], name: str, caller: str, *, one: bool = False, empty: bool = True
) -> tuple[str, ...]:
    """Return ``value``, a sequence of names each in ``allowed``, as a tuple.

    ``one=True`` also takes a single name (a bare string); otherwise a string is
    refused rather than read letter by letter. ``empty=False`` refuses an empty
    sequence. A wrong type raises TypeError, a wrong or missing name ValueError.
    """
    kind = "a name or a sequence of names" if one else "a sequence of names"
    names = (value,) if one and isinstance(value, str) else value
    if (
        isinstance(names, str)
        or not isinstance(names, Sequence)
        or not all(isinstance(n, str) for n in names)
    ):
        raise TypeError(_message(name, caller, f"{kind} from {list(allowed)}", value))
    if not empty and not names:
        raise ValueError(_message(name, caller, f"{kind} from {list(allowed)}, at least one", value))
    unknown = [n for n in names if n not in allowed]
    if unknown:
        got = repr(unknown[0]) if len(unknown) == 1 else repr(unknown)
        raise ValueError(_described(name, caller, f"{kind} from {list(allowed)}", got))
    return tuple(names)


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


def refuse_weighted(data: Any, caller: str, reason: str = "it has no weighted version") -> None:
    """Raise if ``data`` (a Dataset or DataArray) carries importance weights that ``caller`` cannot use.

    Updated results (:func:`nhsrisk.update`) estimate the posterior only when
    their weights are used; a function that would ignore them must not
    quietly report the prior instead. ``reason`` says why ``caller`` does not
    use them (a clause, completing "caller does not use importance weights: ...").

    Examples
    --------
    >>> import xarray as xr
    >>> weighted = xr.DataArray([1.0, 2.0], dims="draw", coords={WEIGHT: ("draw", [0.5, 0.5])})
    >>> refuse_weighted(weighted.drop_vars(WEIGHT), "f")  # no weights: nothing to refuse
    >>> refuse_weighted(weighted, "f", "its draws are compared in pairs")
    Traceback (most recent call last):
    ...
    NotImplementedError: f does not use importance weights: its draws are compared in pairs. ...
    """
    coords = getattr(data, "coords", {})
    if WEIGHT in coords:
        raise NotImplementedError(
            f"{caller} does not use importance weights: {reason}. The results carry them (the {WEIGHT!r} "
            f"coordinate, from nhsrisk.update), so its figures would be the prior's, not the updated ones. "
            f"Give it the results from before the update, or read the weighted draws directly, e.g. "
            f"(ds.weight * ds.npv).sum() for the posterior mean."
        )


def draw_weights(
    data: xr.Dataset | xr.DataArray, draw_dim: str, parameter: str, caller: str
) -> np.ndarray | None:
    """Return the normalised importance weights of ``data`` (its ``weight`` coordinate), or None.

    The coordinate must lie on ``draw_dim`` alone and be finite, non-negative
    and not all 0, as :func:`nhsrisk.update` makes it; anything else is
    refused with a message naming ``parameter``.
    """
    if WEIGHT not in data.coords:
        return None
    coordinate = data.coords[WEIGHT]
    if coordinate.dims != (draw_dim,):
        raise ValueError(
            _described(
                parameter,
                caller,
                f"weighted (if at all) by a {WEIGHT!r} coordinate on the {draw_dim!r} dimension alone",
                f"a {WEIGHT!r} coordinate with dims {coordinate.dims}",
            )
        )
    if not (np.issubdtype(coordinate.dtype, np.number) or coordinate.dtype == bool):
        raise TypeError(
            _described(parameter, caller, f"weighted by a numeric {WEIGHT!r}", f"dtype {coordinate.dtype}")
        )
    weights = np.asarray(coordinate.values, dtype=np.float64)
    problems = []
    if not np.isfinite(weights).all():
        problems.append(f"{int((~np.isfinite(weights)).sum())} NaN or infinite")
    elif (weights < 0).any():
        problems.append(f"{int((weights < 0).sum())} negative")
    elif weights.sum() <= 0.0:
        problems.append("all 0")
    if problems:
        raise ValueError(
            _described(
                parameter,
                caller,
                f"weighted by a {WEIGHT!r} coordinate that is finite, non-negative and not all 0 "
                "(as nhsrisk.update makes it)",
                f"{WEIGHT!r} values that are {problems[0]}",
            )
        )
    return weights / weights.sum()


def same_weights(
    reference: np.ndarray | None, other: np.ndarray | None, parameter: str, owner: str, caller: str
) -> None:
    """Refuse an auxiliary array whose weights differ from those of the main input (``owner``)."""
    if other is None:
        return
    if reference is None or not np.allclose(other, reference, rtol=1e-12, atol=0.0):
        got = "different importance weights" if reference is not None else "importance weights"
        raise ValueError(
            _described(
                parameter,
                caller,
                f"unweighted or weighted exactly as {owner} (the weights are read from {owner}; "
                f"assign them there, e.g. {owner}.assign_coords({WEIGHT}=...))",
                f"{got} (a {WEIGHT!r} coordinate) where {owner} has "
                + ("other ones" if reference is not None else "none"),
            )
        )
