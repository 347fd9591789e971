"""nhsrisk: Monte Carlo productivity-risk analysis of NHS technology investment.

Examples
--------
>>> import nhsrisk
>>> ds = nhsrisk.simulate("spring-budget-2024", draws=1_000, seed=1)
>>> sorted(ds.sizes)
['draw', 'programme', 'staff_group', 'year']
"""

from nhsrisk import distributions
from nhsrisk._version import __version__
from nhsrisk.scenario import (
    BUILTIN_SCENARIOS,
    Quantity,
    Scenario,
    ScenarioError,
    load_scenario,
)
from nhsrisk.simulation import simulate

__all__ = [
    "BUILTIN_SCENARIOS",
    "Quantity",
    "Scenario",
    "ScenarioError",
    "__version__",
    "distributions",
    "load_scenario",
    "simulate",
]
