"""nhsrisk: Monte Carlo productivity-risk analysis of NHS technology investment.

Examples
--------
>>> import nhsrisk
>>> ds = nhsrisk.simulate("as-announced", draws=1_000, seed=1)
>>> sorted(ds.sizes)
['age_band', 'draw', 'programme', 'quintile', 'staff_group', 'year']
"""

import os as _os

# A draw's arithmetic must not depend on where it falls in a block: with Intel's
# SVML present, numba would vectorise exp/pow with it in loop bodies but not in
# loop tails, so the same draw could round differently. (Effective when nhsrisk
# is imported before numba; the chunk-invariance tests would catch a difference.)
_os.environ.setdefault("NUMBA_DISABLE_INTEL_SVML", "1")

from nhsrisk import accessor, distributions  # noqa: E402  (accessor registers ds.nhsrisk)
from nhsrisk._version import __version__
from nhsrisk.experiments import compare_options, sobol_analysis, spider, sweep, tornado, waterfall
from nhsrisk.history import load_history
from nhsrisk.io import open_results, save_results
from nhsrisk.scenario import (
    BUILTIN_SCENARIOS,
    Correlations,
    Quantity,
    Scenario,
    ScenarioError,
    load_scenario,
)
from nhsrisk.simulation import simulate, with_outputs
from nhsrisk.sobol import sobol_indices
from nhsrisk.stats import budget_change_effect, describe, draws_needed, payback, running_mean, summary
from nhsrisk.update import Observation, load_observations, observation_effects, update
from nhsrisk.voi import evpi, evppi

__all__ = [
    "BUILTIN_SCENARIOS",
    "Correlations",
    "Observation",
    "Quantity",
    "Scenario",
    "ScenarioError",
    "__version__",
    "accessor",
    "budget_change_effect",
    "compare_options",
    "describe",
    "distributions",
    "draws_needed",
    "evpi",
    "evppi",
    "load_history",
    "load_observations",
    "load_scenario",
    "observation_effects",
    "open_results",
    "payback",
    "running_mean",
    "save_results",
    "simulate",
    "with_outputs",
    "sobol_analysis",
    "sobol_indices",
    "spider",
    "summary",
    "sweep",
    "tornado",
    "update",
    "waterfall",
]
