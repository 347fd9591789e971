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
import math
from typing import Any

import numpy as np

from nhsrisk._validate import check_count
from nhsrisk.scenario import DEFAULT_SCENARIO, Scenario, dumps_toml, load_scenario

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
    n_programmes: int = 3,
    n_years: int = 10,
    *,
    base: str = DEFAULT_SCENARIO,
    correlations: bool = False,
) -> Scenario:
    """Build a valid scenario with ``n_programmes`` programmes and ``n_years`` years from ``base``.

    Programme ``i`` (named ``programme_000``, ``programme_001``...) copies the
    base scenario's programme ``i mod k`` (k programmes in the base) with all
    its distributions and staff effects, and gets ``1/c`` of that strand's cash
    spend in every year, ``c`` the number of copies of the strand: the base's
    spending profile padded with zeros (or, when ``n_years`` ends before the
    strand's last year of spend, the strand's total spread evenly over the
    ``n_years``). Budget changes of the base are shared out the same way (one
    that falls after the last year moves to the last year). Years run from the
    base's first year. Deterministic: the same arguments give the same
    scenario. Used to benchmark how cost grows with programmes and years, and
    to test large shapes.

    Everything a v2 scenario needs stays valid: the GDP deflator is extended
    beyond its last year at 2% a year (said in its ``source``), ``target.year``
    is kept if it falls inside the years and dropped (the claim window is then
    every year) otherwise, and ``baseline`` is dropped.

    Parameters
    ----------
    n_programmes : int, default=3
        Number of programmes (>= 1).
    n_years : int, default=10
        Number of financial years (>= 1); the appraisal period.
    base : str, default="as-announced"
        Scenario to copy programmes, staff groups, risks and the deflator from.
    correlations : bool, default=False
        ``False`` drops the base's ``correlations`` table (its inputs name the
        base's programmes). ``True`` rebuilds it for the copies: an input of a
        copy has the correlations of the input it copies; two copies of the
        same strand are correlated as two different strands of the base are on
        average (independent if the base correlates no such pair).

    Returns
    -------
    Scenario

    Examples
    --------
    >>> s = synthetic_scenario(n_programmes=4, n_years=40)
    >>> len(s.programmes), s.years[-1], s.target_year
    (4, '2064/65', '2029/30')
    >>> "2.0% a year" in s.deflator.source
    True
    >>> linked = synthetic_scenario(3, 5, correlations=True)
    >>> linked.correlations.inputs[0]
    'programmes.programme_000.cost_overrun'
    """
    n_programmes = check_count(n_programmes, "n_programmes", "synthetic_scenario")
    n_years = check_count(n_years, "n_years", "synthetic_scenario")
    if not isinstance(correlations, bool):
        raise TypeError(
            "The 'correlations' parameter of synthetic_scenario must be a bool. "
            f"Got {correlations!r} instead."
        )
    source = load_scenario(base)
    data = copy.deepcopy(source.to_dict())
    first = int(source.years[0][:4])
    years = financial_years(first, n_years)
    base_ids = list(data["programmes"])
    ids = [f"programme_{i:03d}" for i in range(n_programmes)]
    template_of = [base_ids[i % len(base_ids)] for i in range(n_programmes)]
    copies = {pid: template_of.count(pid) for pid in base_ids}

    programmes = {}
    for new, pid in zip(ids, template_of, strict=True):
        template = copy.deepcopy(data["programmes"][pid])
        values = template["spend"]["values"]
        template["spend"] = {
            "values": _share_out(values, n_years, copies[pid]),
            "source": f"synthetic: 1/{copies[pid]} of the spend of {pid} in {source.name} "
            + ("each year" if _fits(values, n_years) else f"spread evenly over {n_years} year(s)"),
        }
        template["label"] = f"Synthetic programme {new[-3:]} (copy of {pid})"
        programmes[new] = template

    changes = []
    for change in data.pop("budget_changes", []):
        pid, t = change["programme"], source.years.index(change["year"])
        spend = data["programmes"][pid]["spend"]["values"]
        for new, template in zip(ids, template_of, strict=True):
            if template != pid:
                continue
            if _fits(spend, n_years):
                moved = min(t, n_years - 1)
                spread = [(moved, change["amount"] / copies[pid])]
                how = "" if moved == t else f", moved from {change['year']} to the last year"
            else:
                spread = [(s, change["amount"] / copies[pid] / n_years) for s in range(n_years)]
                how = f", spread evenly over {n_years} year(s)"
            for s, amount in spread:
                changes.append(
                    {
                        **change,
                        "programme": new,
                        "year": years[s],
                        "amount": amount,
                        "source": f"synthetic: 1/{copies[pid]} of a budget change to {pid}{how}. "
                        + change["source"],
                    }
                )
    if changes:
        data["budget_changes"] = changes

    table = data.pop("correlations", None)
    if correlations and table is not None:
        data["correlations"] = _copied_correlations(table, ids, template_of)

    data["deflator"] = _extended_deflator(data["deflator"], [source.price_base, *years])
    data["programmes"] = programmes
    data["years"] = years
    data["name"] = f"synthetic-{n_programmes}x{n_years}"
    data["title"] = (
        f"Synthetic scenario: {n_programmes} programmes, {n_years} years, copied from {source.name}"
    )
    data.pop("baseline", None)
    if data["target"].get("year") not in years:
        data["target"].pop("year", None)
    return Scenario.from_toml(dumps_toml(data), file=f"<synthetic {n_programmes}x{n_years}>")


def _fits(values: list[float], n_years: int) -> bool:
    """Return True when every year with spend falls inside the first ``n_years``."""
    return all(v == 0 for v in values[n_years:])


def _share_out(values: list[float], n_years: int, copies: int) -> list[float]:
    """Return 1/copies of a spending profile over ``n_years``: padded with zeros, or spread if longer."""
    if _fits(values, n_years):
        padded = list(values[:n_years]) + [0.0] * (n_years - len(values))
        return [v / copies for v in padded]
    total = math.fsum(values) / copies
    return [total / n_years] * n_years


def _extended_deflator(table: dict[str, Any], needed: list[str]) -> dict[str, Any]:
    """Return the deflator table extended year by year at 2% a year until it covers ``needed``."""
    listed = list(table["years"])
    index = list(table["index"])
    last = max(range(len(listed)), key=lambda j: int(listed[j][:4]))
    start = int(listed[last][:4])
    beyond = max(int(year[:4]) for year in needed)
    if beyond <= start:
        return table
    added = financial_years(start + 1, beyond - start)
    value = index[last]
    for year in added:
        value *= 1.02
        listed.append(year)
        index.append(value)
    return {
        **table,
        "years": listed,
        "index": index,
        "source": f"{table['source']}. synthetic_scenario: extended from {added[0]} to {added[-1]} at "
        "2.0% a year (assumption: the OBR's long-run deflator growth)",
    }


def _copied_correlations(table: dict[str, Any], ids: list[str], template_of: list[str]) -> dict[str, Any]:
    """Return the correlations table rebuilt for the copies (see :func:`synthetic_scenario`)."""
    inputs = list(table["inputs"])
    matrix = np.asarray(table["matrix"], dtype=float)

    def split(path: str) -> tuple[str | None, str]:
        parts = path.split(".", 2)
        return (parts[1], parts[2]) if parts[0] == "programmes" else (None, path)

    base = [split(path) for path in inputs]
    # the average correlation of a pair of fields across two different strands of the base
    across: dict[tuple[str, str], list[float]] = {}
    for a, (pa, fa) in enumerate(base):
        for b, (pb, fb) in enumerate(base):
            if pa is not None and pb is not None and pa != pb:
                across.setdefault((fa, fb), []).append(float(matrix[a, b]))
    new: list[tuple[int, int | None, str]] = []  # (row of the base input, copy number, path)
    for a, (pa, fa) in enumerate(base):
        if pa is None:
            new.append((a, None, inputs[a]))
            continue
        for i, template in enumerate(template_of):
            if template == pa:
                new.append((a, i, f"programmes.{ids[i]}.{fa}"))
    rebuilt = np.eye(len(new))
    for x, (a, copy_a, _) in enumerate(new):
        for y, (b, copy_b, _) in enumerate(new):
            if x == y:
                continue
            if (
                copy_a is not None
                and copy_b is not None
                and copy_a != copy_b
                and template_of[copy_a] == template_of[copy_b]
            ):
                pairs = across.get((base[a][1], base[b][1]), [])
                rebuilt[x, y] = sum(pairs) / len(pairs) if pairs else 0.0
            else:
                rebuilt[x, y] = matrix[a, b]
    return {
        **table,
        "inputs": [path for _, _, path in new],
        "matrix": rebuilt.tolist(),
        "source": f"synthetic_scenario: copied for the synthetic programmes from: {table['source']}",
    }


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
