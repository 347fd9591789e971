"""asv benchmarks of the sensitivity analyses on the default scenario (model v2, ten years)."""

from __future__ import annotations

import nhsrisk
from nhsrisk.scenario import DEFAULT_SCENARIO

SCENARIO = DEFAULT_SCENARIO
SEED = 20240306
#: An input of the default scenario for the one-parameter EVPPI (risks are per programme in v2).
EVPPI_INPUT = "programmes.it_modernisation.delivery_delay"


class SobolAnalysis:
    """Scenario-level Sobol' indices: a Saltelli design of ``N * (factors + 2)`` kernel runs."""

    params = [2**10, 2**12]
    param_names = ["base_samples"]
    timeout = 900
    number = 1
    repeat = (1, 3, 120.0)

    def setup(self, base_samples):
        self.scenario = nhsrisk.load_scenario(SCENARIO)
        nhsrisk.sobol_analysis(self.scenario, base_samples=16, seed=SEED, bootstrap=0)

    def time_sobol_analysis(self, base_samples):
        nhsrisk.sobol_analysis(self.scenario, base_samples=base_samples, seed=SEED)

    def peakmem_sobol_analysis(self, base_samples):
        nhsrisk.sobol_analysis(self.scenario, base_samples=base_samples, seed=SEED)


class OneWay:
    """Tornado (with switching values) and spider over every input."""

    timeout = 300
    number = 1
    repeat = (1, 5, 60.0)

    def setup(self):
        self.scenario = nhsrisk.load_scenario(SCENARIO)
        nhsrisk.tornado(self.scenario, inputs=["risks.digital_exclusion"])

    def time_tornado(self):
        nhsrisk.tornado(self.scenario)

    def time_spider(self):
        nhsrisk.spider(self.scenario)


class Sweep:
    """A 3 x 3 sweep at 10,000 draws a cell."""

    timeout = 300
    number = 1
    repeat = (1, 5, 60.0)

    def setup(self):
        self.scenario = nhsrisk.load_scenario(SCENARIO)
        nhsrisk.simulate(self.scenario, draws=64, seed=SEED)

    def time_sweep(self):
        nhsrisk.sweep(
            self.scenario,
            {"risks.raid_probability": [0.1, 0.3, 0.5], "risks.digital_exclusion": [0.1, 0.25, 0.4]},
            draws=10_000,
            seed=SEED,
        )


class Statistics:
    """Summaries and rank statistics of a 10**6-draw run, and EVPPI of a two-option decision."""

    timeout = 600
    number = 1
    repeat = (1, 5, 60.0)

    def setup(self):
        self.ds = nhsrisk.simulate(SCENARIO, draws=10**6, seed=SEED)
        base = nhsrisk.load_scenario(SCENARIO)
        self.options = nhsrisk.compare_options(
            {"as planned": base, "ring-fenced": base.with_values({"risks.raid_probability": 0.0})},
            draws=10**5,
            seed=SEED,
        )

    def time_summary(self):
        nhsrisk.summary(self.ds)

    def time_prcc(self):
        self.ds.nhsrisk.prcc("cumulative_value")

    def time_evppi_one_parameter(self):
        nhsrisk.evppi(self.options["npv"], self.options[EVPPI_INPUT])


class Waterfall:
    """``waterfall`` of the default: Shapley (exact, by enumeration over the risk groups) and sequential."""

    params = ["shapley", "sequential"]
    param_names = ["order"]
    timeout = 600
    number = 1
    repeat = (1, 3, 120.0)

    def setup(self, order):
        self.scenario = nhsrisk.load_scenario(SCENARIO)
        nhsrisk.simulate(self.scenario, draws=64, seed=SEED)

    def time_waterfall(self, order):
        nhsrisk.waterfall(self.scenario, draws=20_000, seed=SEED, order=order, progress=False)
