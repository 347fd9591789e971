"""Helpers for tests and benchmarks: synthetic scenarios of any size.

Examples
--------
>>> from nhsrisk.testing import synthetic_scenario
>>> s = synthetic_scenario(n_programmes=8, n_years=12)
>>> len(s.programmes), len(s.years)
(8, 12)
"""

from __future__ import annotations

import copy
from typing import Any

from nhsrisk._validate import check_count
from nhsrisk.scenario import Scenario, dumps_toml, load_scenario

__all__ = ["assert_hours_within_cap", "financial_years", "input_values", "synthetic_scenario"]


def financial_years(first: int, count: int) -> list[str]:
    """``count`` consecutive financial-year labels from ``first``/``first+1``.

    Examples
    --------
    >>> financial_years(2025, 3)
    ['2025/26', '2026/27', '2027/28']
    """
    return [f"{year}/{(year + 1) % 100:02d}" for year in range(first, first + count)]


def synthetic_scenario(
    n_programmes: int = 3, n_years: int = 5, *, base: str = "spring-budget-2024"
) -> Scenario:
    """Build a scenario with ``n_programmes`` programmes and ``n_years`` years from ``base``.

    Programme ``i`` copies the base scenario's programme ``i mod 3`` (with all
    its distributions and staff effects) and gets 1/n of the base's total
    spend for that strand, spread over the first three years (or all years if
    fewer). Years run from 2025/26. Deterministic: the same arguments give the
    same scenario. Used to benchmark how cost grows with programmes and years,
    and to test large shapes.

    Parameters
    ----------
    n_programmes : int, default=3
        Number of programmes (>= 1).
    n_years : int, default=5
        Number of financial years (>= 1).
    base : str, default="spring-budget-2024"
        Scenario to copy programmes, staff groups and risks from.

    Returns
    -------
    Scenario
    """
    n_programmes = check_count(n_programmes, "n_programmes", "synthetic_scenario")
    n_years = check_count(n_years, "n_years", "synthetic_scenario")
    data = copy.deepcopy(load_scenario(base).to_dict())
    templates = list(data["programmes"].values())
    years = financial_years(2025, n_years)
    funded = min(3, n_years)
    programmes = {}
    for i in range(n_programmes):
        template = copy.deepcopy(templates[i % len(templates)])
        copies = len(range(i % len(templates), n_programmes, len(templates)))
        total = sum(template["spend"]["values"]) / copies
        template["spend"] = {
            "values": [total / funded if t < funded else 0.0 for t in range(n_years)],
            "source": f"synthetic: 1/{copies} of the base strand's spend, level over {funded} year(s)",
        }
        template["label"] = f"Synthetic programme {i}"
        programmes[f"programme_{i:03d}"] = template
    data["programmes"] = programmes
    data["years"] = years
    data["name"] = f"synthetic-{n_programmes}x{n_years}"
    data["title"] = f"Synthetic scenario: {n_programmes} programmes, {n_years} years"
    data["target"].pop("year", None)
    return Scenario.from_toml(dumps_toml(data), file=f"<synthetic {n_programmes}x{n_years}>")


def input_values(ds: Any, scenario: Scenario, key: str) -> Any:
    """Return the draws of input ``key`` if it was sampled, else its fixed value from ``scenario``."""
    return ds[key] if key in ds else scenario.quantities()[key].distribution.mean()


def assert_hours_within_cap(ds: Any, scenario: Scenario, *, rtol: float = 1e-12, atol: float = 0.0) -> None:
    """Assert that hours released per staff group, summed over programmes, never exceed its cap.

    The cap is ``fte * hours_per_fte * max_release_share`` of each draw.

    Raises
    ------
    AssertionError
        Naming the first staff group over its cap and by how much.
    """
    for gid in scenario.staff_groups:
        limit = 1.0
        for field in ("fte", "hours_per_fte", "max_release_share"):
            limit = limit * input_values(ds, scenario, f"staff_groups.{gid}.{field}")
        released = ds["hours_released"].sel(staff_group=gid).sum("programme")
        excess = released - (limit * (1 + rtol) + atol)
        if bool((excess > 0).any()):
            raise AssertionError(f"staff group {gid!r} released {float(excess.max())!r} hours over its cap")
