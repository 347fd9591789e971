"""Shared fixtures, the fast/full tier switch (``pytest --runslow`` runs the full tier), and the
smallest valid scenario of model v2 for tests that build scenarios from dicts."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow", action="store_true", default=False, help="run the full (slow) statistical tier"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="full tier: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def figures_closed() -> Iterator[None]:
    """Draw on the Agg backend (no display) and close every figure the test opened."""
    import matplotlib

    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


def fixed(value: float, source: str = "assumption: test value") -> dict[str, Any]:
    """A fixed quantity table."""
    return {"value": value, "source": source}


def minimal_scenario_dict(n_years: int = 2, *, target_year: str | None = None) -> dict[str, Any]:
    """The smallest valid schema-2 scenario, every input fixed, as a TOML-layout dict.

    One programme (``kit``) with staff and patient channels, one staff group
    (``gp``), ``n_years`` years from 2025/26 with GBP 1m cash spend each, a flat
    deflator (cash = real), and every risk switched off or neutral: no raids,
    no overrun, no delay, no do-minimum uptake, support past the last year, no
    decay, no running cost and no residual value. The uptake midpoint of -100
    years puts the S-curve exactly at its ceiling in every year
    (``exp(-100.5)`` is below half an ulp of 1), so a test switches on only the
    mechanism it checks, and can compute the answer by hand.
    """
    years = [f"{y}/{(y + 1) % 100:02d}" for y in range(2025, 2025 + n_years)]
    return copy.deepcopy(
        {
            "schema_version": 2,
            "name": "tiny",
            "title": "Hand-computable scenario",
            "description": "One programme, one staff group, every input fixed.",
            "years": years,
            "price_base": "2024/25",
            "deflator": {
                "years": ["2024/25", *years],
                "index": [100.0] * (n_years + 1),
                "source": "assumption: flat deflator, cash equals real terms",
            },
            "discount_rate": fixed(0.035),
            "long_term_discount_rate": fixed(0.03),
            "target": {
                "description": "test target",
                "claimed_return": fixed(5.0e6),
                "year": target_year or years[-1],
            },
            "risks": {
                "raid_probability": fixed(0.0),
                "raid_fraction": fixed(0.2),
                "digital_exclusion": fixed(0.25),
                "staff_capacity": fixed(1.0),
                "social_care_leakage": fixed(0.5),
                "funding_elasticity": fixed(1.0),
                "released_time_used": fixed(0.5),
            },
            "staff_groups": {
                "gp": {
                    "label": "GPs",
                    "fte": fixed(1000.0),
                    "hours_per_fte": fixed(1500.0),
                    "cost_per_hour": fixed(50.0),
                    "max_release_share": fixed(0.2),
                }
            },
            "programmes": {
                "kit": {
                    "label": "Kit",
                    "spend": {"values": [1.0e6] * n_years, "source": "assumption: test spend"},
                    "raid_exposure": fixed(1.0),
                    "cost_overrun": fixed(1.0),
                    "black_swan": fixed(0.0),
                    "black_swan_overrun": fixed(3.0),
                    "delivery_delay": fixed(0.0),
                    "uptake_ceiling": fixed(0.8),
                    "uptake_midpoint": fixed(-100.0),
                    "uptake_steepness": fixed(1.0),
                    "do_minimum_ceiling": fixed(0.0),
                    "do_minimum_midpoint": fixed(0.0),
                    "do_minimum_steepness": fixed(1.0),
                    "support_years": fixed(50.0),
                    "benefit_decay": fixed(0.0),
                    "running_cost": fixed(0.0),
                    "cashed_share": fixed(0.25),
                    "non_staff_savings": fixed(0.0),
                    "social_care_share": fixed(0.1),
                    "residual_life": fixed(0.0),
                    "staff": {"gp": {"addressable_share": fixed(0.1), "recovered_fraction": fixed(0.5)}},
                    "patients": {"contacts_per_year": fixed(1.0e6), "value_per_contact": fixed(2.0)},
                }
            },
        }
    )


@pytest.fixture
def scenario_dict() -> Callable[..., dict[str, Any]]:
    """Builder of the smallest valid schema-2 scenario dict (see :func:`minimal_scenario_dict`)."""
    return minimal_scenario_dict
