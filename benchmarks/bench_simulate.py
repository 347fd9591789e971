"""asv benchmarks of ``nhsrisk.simulate`` on the default scenario (model v2: ten years).

``Simulate`` times the public call (plan building, the kernel, the xarray
Dataset); ``time_kernel_only`` times the jitted kernel alone on preallocated
outputs, so the two together show how much of a run is the kernel.
``KernelPerDrawYear`` holds the kernel at 10**5 draws on the v1 shape (five
years) and the v2 default (ten years): divide by draws x years to compare with
v1's ``KernelOnly`` (``python -m benchmarks.versus_v1`` does it in one run).
"""

from __future__ import annotations

import numba

import nhsrisk
from nhsrisk import _engine
from nhsrisk._kernels import simulate_kernel
from nhsrisk._plan import build_plan
from nhsrisk.scenario import DEFAULT_SCENARIO

SCENARIO = DEFAULT_SCENARIO
SEED = 20240306
DRAWS = [10**4, 10**5, 10**6]


def _compile() -> None:
    """Compile (or load from numba's disk cache) every kernel with a tiny run."""
    nhsrisk.simulate(SCENARIO, draws=64, seed=SEED)


class Simulate:
    """``nhsrisk.simulate(draws=n)`` on the default scenario, all numba threads.

    The default keeps the headline outputs; ``keep="all"`` every output, for comparison.
    """

    params = DRAWS
    param_names = ["draws"]
    timeout = 900
    # a 10**6 run takes seconds: a few repeats are enough
    number = 1
    repeat = (1, 5, 60.0)

    def setup(self, draws):
        self.scenario = nhsrisk.load_scenario(SCENARIO)
        _compile()

    def time_simulate(self, draws):
        nhsrisk.simulate(self.scenario, draws=draws, seed=SEED)

    def peakmem_simulate(self, draws):
        nhsrisk.simulate(self.scenario, draws=draws, seed=SEED)

    def time_simulate_every_output(self, draws):
        nhsrisk.simulate(self.scenario, draws=draws, seed=SEED, keep="all")

    def peakmem_simulate_every_output(self, draws):
        nhsrisk.simulate(self.scenario, draws=draws, seed=SEED, keep="all")


class SimulateStreamed:
    """``simulate(keep="summary")`` up to 10**7 draws: the size the issue asks for.

    With every draw kept, 10**7 draws of the default scenario (ten years) take
    about 27 GB with the headline outputs (2,700 bytes a draw, kept inputs included) and
    55 GB with every output, more than this
    24 GB machine holds; streamed in chunks, only the summaries and one chunk's
    buffers are in memory.
    """

    params = [10**6, 10**7]
    param_names = ["draws"]
    timeout = 1200
    number = 1
    repeat = (1, 3, 120.0)

    def setup(self, draws):
        self.scenario = nhsrisk.load_scenario(SCENARIO)
        _compile()
        nhsrisk.simulate(self.scenario, draws=10_000, seed=SEED, keep="summary")

    def time_simulate_summary(self, draws):
        nhsrisk.simulate(self.scenario, draws=draws, seed=SEED, keep="summary")

    def peakmem_simulate_summary(self, draws):
        nhsrisk.simulate(self.scenario, draws=draws, seed=SEED, keep="summary")


class KernelOnly:
    """The jitted kernel alone: the plan is built and the outputs allocated in ``setup``."""

    params = DRAWS
    param_names = ["draws"]
    timeout = 900
    number = 1
    repeat = (1, 5, 60.0)

    def setup(self, draws):
        _compile()
        plan = build_plan(nhsrisk.load_scenario(SCENARIO))
        self.kernel, self.args = _kernel_call(plan, draws)
        # one untimed call: pages of the fresh output arrays are touched (first-touch
        # page faults cost seconds at 10**6 draws on a VM) and every specialisation is loaded
        self.kernel(*self.args)

    def time_kernel_only(self, draws):
        self.kernel(*self.args)


def _kernel_call(plan, draws, threads=None, sampler="random"):
    """The kernel and its arguments for ``draws`` draws, outputs allocated as ``simulate`` allocates them."""
    if threads is not None:
        numba.set_num_threads(threads)
    outputs, inputs = _engine.allocate_results(plan, draws)
    sampling = _engine.sampler_arguments(plan, sampler, SEED, 0, draws)
    return simulate_kernel, _engine.kernel_arguments(plan, SEED, 0, inputs, outputs, sampling)


class KernelPerDrawYear:
    """The kernel alone at 10**5 draws on five years (v1's shape) and on ten (v2's default period).

    Both are the default's programmes, staff groups and correlations
    (``synthetic_scenario(3, years, correlations=True)``: the default's
    programmes renamed, its spending profile); seconds / (draws x years) is the
    cost of a draw-year.
    """

    params = [5, 10]
    param_names = ["years"]
    timeout = 600
    number = 1
    repeat = (1, 7, 60.0)

    def setup(self, years):
        from nhsrisk.testing import synthetic_scenario

        _compile()
        plan = build_plan(synthetic_scenario(3, years, correlations=True))
        self.kernel, self.args = _kernel_call(plan, 10**5)
        self.kernel(*self.args)  # touch the output pages, load every specialisation

    def time_kernel(self, years):
        self.kernel(*self.args)


class Samplers:
    """``simulate`` with each sampling design at 2**17 draws (Sobol' needs a power of two).

    ``time_simulate`` includes making the design (scipy's Sobol' points);
    ``time_kernel`` is the kernel alone on a prepared design, the figure to
    compare with ``KernelOnly``: the ratio of the Latin hypercube to the plain path.
    """

    params = ["random", "lhs", "sobol"]
    param_names = ["sampler"]
    timeout = 600
    number = 1
    repeat = (1, 7, 60.0)

    def setup(self, sampler):
        _compile()
        self.scenario = nhsrisk.load_scenario(SCENARIO)
        self.kernel, self.args = _kernel_call(build_plan(self.scenario), 2**17, sampler=sampler)
        self.kernel(*self.args)

    def time_simulate(self, sampler):
        nhsrisk.simulate(self.scenario, draws=2**17, seed=SEED, sampler=sampler)

    def peakmem_simulate(self, sampler):
        nhsrisk.simulate(self.scenario, draws=2**17, seed=SEED, sampler=sampler)

    def time_kernel(self, sampler):
        self.kernel(*self.args)


class ScenarioShape:
    """``simulate`` at 20,000 draws on synthetic scenarios of 1-64 programmes and 5-40 years.

    Synthetic programmes copy the default's (:func:`nhsrisk.testing.synthetic_scenario`)
    without its correlations table, so the copula's cost does not grow with programmes.
    """

    params = ([1, 4, 16, 64], [5, 10, 20, 40])
    param_names = ["programmes", "years"]
    timeout = 600
    number = 1
    repeat = (1, 5, 30.0)

    def setup(self, programmes, years):
        from nhsrisk.testing import synthetic_scenario

        self.scenario = synthetic_scenario(programmes, years)
        nhsrisk.simulate(self.scenario, draws=64, seed=SEED)

    def time_simulate(self, programmes, years):
        nhsrisk.simulate(self.scenario, draws=20_000, seed=SEED)

    def peakmem_simulate(self, programmes, years):
        nhsrisk.simulate(self.scenario, draws=20_000, seed=SEED)
