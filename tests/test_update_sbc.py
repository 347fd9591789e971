"""Simulation-based calibration of ``nhsrisk.update`` (issue 17; Talts et al., 2018, arXiv:1804.06788).

Each replication draws a truth from the prior, simulates an observation from
it, updates, and takes the rank of the truth in the posterior, for several
quantities; if the posterior is right the ranks are uniform. The test bins them
and rejects uniformity by chi-square.

Design
------
Replication ``r`` makes one run ``simulate(scenario, draws=N + 1, seed=SEED + r)``
of the default scenario (a fresh, independent prior sample in every
replication, so the replications are independent). Its last draw is the truth:
a full joint draw of inputs and outputs. The observation is the uptake of
``it_modernisation`` in 2026/27, the truth's value plus ``N(0, SD)`` noise from a
seeded generator, stated as ``Observation("uptake", ..., value, sd=SD)``.
``update`` weights all ``N + 1`` draws, the truth among them. For each
quantity ``q`` the rank statistic is the randomised posterior CDF of the truth
(the probability integral transform),
``u = sum(w_i [q_i < q*]) + V sum(w_i [q_i = q*])`` with ``V ~ U(0, 1)``. This
is the limit of Talts' rank: with ``L`` posterior draws resampled by the weights,
the rank given ``u`` is Binomial(L, u), so uniform ``u`` means uniform ranks,
and ``u`` carries no resampling noise.

Why the truth is in the sample: the draws are independent and identically
distributed (counter-based random numbers per draw, ``nhsrisk._rng``), so given
the set of the ``N + 1`` draws and the observation, the truth is draw ``j`` with
probability proportional to the likelihood of the observation at draw ``j``.
That distribution is exactly the weights that a correct ``update`` returns. So
``u`` is exactly uniform for any ``N``: this SBC has no importance-sampling
approximation error. With the truth held out of the sample (the truth from an
independent run, the ordinary use of ``update``) the ranks are only
approximately uniform. The difference is at most one draw's weight: with correct
normalised weights, the held-out rank differs from the rank computed with the
truth in the sample by at most ``w_truth``. The test checks that bound in every
replication, so it also tests ``update`` on a sample without the truth. The
truth's weight averages about 1/1000 in the full tier (at most 0.4%; 1.3% in
the fast tier, with a quarter of the draws), so the held-out ranks are uniform
to that accuracy (their p-values are reported in the assertion messages).

Refusals. The prior of the observed uptake is skewed to the right, so a truth
far in its tail gives an observation that few draws explain. ``update`` then
refuses (effective sample size below 10% of the draws), as it should. Those
replications are dropped and counted. Dropping them does not bias the test: the
refusal depends only on the sample and the observation, never on which draw is
the truth, and conditioning on the data leaves the posterior of the truth
unchanged. At least 200 replications must remain in the full tier.

N and SD. ``SD = 0.02`` (2 percentage points of uptake) against a prior sd of
about 0.05 is informative: the posterior sd of the observed uptake is about 30%
of its prior sd on average (asserted below 60%). The mean effective sample size
is about 30% of the draws, three times the refusal threshold, and 6 to 8% of the
replications are refused (asserted at most 15%). A smaller SD would make the
observation sharper but refuse more replications; a larger one would weaken the
power check. ``N = 4000`` in the full tier is a few thousand draws, as in
ordinary use. The exactness argument does not depend on ``N``, so the fast tier
uses ``N = 1000``.

Tests. One chi-square goodness-of-fit test to uniform over ``BINS`` = 10
equal bins for each of the 5 quantities: the observed uptake itself (without
its error), three inputs of the programme (``uptake_midpoint``,
``uptake_ceiling`` and ``delivery_delay``), and an unobserved output
(``cumulative_value`` in the target year 2029/30). There are 5 tests, so
each is rejected at ``0.01 / 5``; the whole family is rejected at 1% when
``update`` is right (Bonferroni).

Power. A test that cannot fail is a bug. The same replications are updated
with a likelihood 3 times too wide (``sd = 3 * SD``; the noise is still
``SD``). That posterior is too wide, so the truth falls too often in its middle.
The chi-square test of the observed uptake must reject it at the same
threshold, with too few ranks in the outer bins. SBC cannot detect a posterior
that equals the prior: the data-averaged posterior is then the prior, and
every rank is uniform. So the test also asserts that the observation narrows
the posterior. When this file was written, mutated versions of ``update`` were
run against it by hand (not part of the suite). A likelihood sd 1.5 times too
wide or too narrow failed the rank test in both tiers. Weights shifted by one
draw passed the rank test, because shifted weights are unrelated to the draws
and act like the prior, but failed the held-out bound and the narrowing.
Uniform weights failed the narrowing.

Fixed seeds throughout, so every result is deterministic; no timing is
asserted. The fast tier (150 replications of 1,001 draws, about 3 seconds)
runs the same checks with less power. The full tier (``--runslow``) runs 500
replications of 4,001 draws (about 20 seconds) and must keep at least 200.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import xarray as xr
from scipy.stats import chisquare

import nhsrisk
from nhsrisk import Observation, update

PROGRAMME, YEAR, LATER_YEAR = "it_modernisation", "2026/27", "2029/30"
WHERE = {"year": YEAR, "programme": PROGRAMME}
#: Standard deviation of the observation's error, in uptake (a share): the noise and the likelihood.
SD = 0.02
#: The deliberately miscalibrated likelihood of the power check: its sd is this times the noise's.
WRONG_FACTOR = 3.0
BINS = 10
FAMILY_LEVEL = 0.01

QUANTITIES: dict[str, Callable[[xr.Dataset], np.ndarray]] = {
    f"uptake {YEAR} (observed)": lambda ds: ds["uptake"].sel(year=YEAR, programme=PROGRAMME).values,
    "uptake_midpoint": lambda ds: ds[f"programmes.{PROGRAMME}.uptake_midpoint"].values,
    "uptake_ceiling": lambda ds: ds[f"programmes.{PROGRAMME}.uptake_ceiling"].values,
    "delivery_delay": lambda ds: ds[f"programmes.{PROGRAMME}.delivery_delay"].values,
    f"cumulative_value {LATER_YEAR}": lambda ds: ds["cumulative_value"].sel(year=LATER_YEAR).values,
}
OBSERVED = 0  # the row of QUANTITIES that is observed
LEVEL = FAMILY_LEVEL / len(QUANTITIES)

#: tier -> (prior draws N, replications, seed); the full tier is the acceptance test of issue 17.
TIERS = {"fast": (1_000, 150, 1_717), "full": (4_000, 500, 17_000)}


@dataclass
class Calibration:
    """Ranks (posterior CDF at the truth) of the kept replications, one row per quantity."""

    n_prior: int
    replications: int
    refused: int
    ranks: np.ndarray  # with the truth in the weighted sample: exactly uniform under a correct update
    held_out: np.ndarray  # with the truth left out of the sample (approximately uniform)
    wrong: np.ndarray  # from the likelihood WRONG_FACTOR times too wide (not uniform)
    truth_weight: np.ndarray  # the truth's own weight in each kept replication
    ess_share: np.ndarray  # effective sample size / draws in each kept replication
    narrowing: np.ndarray  # posterior sd / prior sd of the observed quantity in each kept replication

    @property
    def kept(self) -> int:
        return self.ranks.shape[1]

    def report(self) -> str:
        held = ", ".join(f"{p:.3g}" for p in p_values(self.held_out))
        return (
            f"{self.kept} of {self.replications} replications kept ({self.refused} refused by update), "
            f"N = {self.n_prior} draws + the truth, mean effective sample size {self.ess_share.mean():.1%} "
            f"of the draws (smallest {self.ess_share.min():.1%}), posterior sd / prior sd of the observed "
            f"quantity {self.narrowing.mean():.2f}; p-values {format_p(self.ranks)}; truth held out: "
            f"[{held}]; likelihood sd x{WRONG_FACTOR:g}: {format_p(self.wrong)}; "
            f"largest weight of the truth {self.truth_weight.max():.2e}"
        )


def posterior_cdf(weights: np.ndarray, values: np.ndarray, truth: float, tie: float) -> float:
    """The randomised weighted CDF at the truth: weight below, plus a uniform share of the weight at it."""
    return float(weights[values < truth].sum() + tie * weights[values == truth].sum())


def p_values(ranks: np.ndarray) -> np.ndarray:
    """Chi-square p-value of uniformity over BINS equal bins, for each row of ranks in [0, 1]."""
    bins = np.minimum((ranks * BINS).astype(int), BINS - 1)
    return np.array([chisquare(np.bincount(row, minlength=BINS)).pvalue for row in bins])


def format_p(ranks: np.ndarray) -> str:
    return (
        "{" + ", ".join(f"{name}: {p:.3g}" for name, p in zip(QUANTITIES, p_values(ranks), strict=True)) + "}"
    )


def calibrate(n_prior: int, replications: int, seed: int) -> Calibration:
    """Run the replications (see the module docstring)."""
    scenario = nhsrisk.load_scenario("as-announced")
    rng = np.random.default_rng(seed)
    ranks, held_out, wrong, truth_weight, ess_share, narrowing = [], [], [], [], [], []
    refused = 0
    for r in range(replications):
        run = nhsrisk.simulate(scenario, draws=n_prior + 1, seed=seed + r, progress=False)
        values = np.stack([np.asarray(quantity(run), dtype=float) for quantity in QUANTITIES.values()])
        truth = values[:, -1]  # the last draw: a joint draw of inputs and outputs from the prior
        # drawn before the update, so that a refusal leaves the streams of later replications alone
        observed = truth[OBSERVED] + rng.normal(0.0, SD)
        tie = rng.uniform()
        seen = Observation("uptake", WHERE, value=observed, sd=SD)
        try:
            post = update(run, seen)
        except ValueError as error:
            if "effective sample size" not in str(error):
                raise
            refused += 1
            continue
        w = post.weight.values
        assert post.weight.dims == ("draw",) and w.shape == (n_prior + 1,)
        ranks.append([posterior_cdf(w, row, t, tie) for row, t in zip(values, truth, strict=True)])
        # the truth held out: the same observation, the other N draws (threshold off: the comparison
        # below needs every kept replication, and the N-draw sample may sit just under 10%)
        held = update(run.isel(draw=slice(0, n_prior)), seen, min_effective_share=0.0).weight.values
        held_out.append([posterior_cdf(held, row[:-1], t, tie) for row, t in zip(values, truth, strict=True)])
        wide = Observation("uptake", WHERE, value=observed, sd=WRONG_FACTOR * SD)
        w_wrong = update(run, wide, min_effective_share=0.0).weight.values
        wrong.append([posterior_cdf(w_wrong, row, t, tie) for row, t in zip(values, truth, strict=True)])
        truth_weight.append(w[-1])
        ess_share.append(post.attrs["effective_sample_size"] / (n_prior + 1))
        x = values[OBSERVED]
        mean = np.sum(w * x)
        narrowing.append(np.sqrt(np.sum(w * (x - mean) ** 2)) / np.std(x))
    return Calibration(
        n_prior,
        replications,
        refused,
        np.array(ranks).T,
        np.array(held_out).T,
        np.array(wrong).T,
        np.array(truth_weight),
        np.array(ess_share),
        np.array(narrowing),
    )


@pytest.fixture(
    scope="module",
    params=[pytest.param("fast", id="fast"), pytest.param("full", id="full", marks=pytest.mark.slow)],
)
def calibration(request: pytest.FixtureRequest) -> Calibration:
    return calibrate(*TIERS[request.param])


def test_the_ranks_of_the_truth_are_uniform(calibration: Calibration) -> None:
    summary = calibration.report()
    if calibration.n_prior == TIERS["full"][0]:
        assert calibration.kept >= 200, summary
    # refusals are the tail of the prior, not the rule: the effective sample stays well above 10%
    assert calibration.refused <= 0.15 * calibration.replications, summary
    assert calibration.ess_share.mean() >= 0.2, summary
    p = p_values(calibration.ranks)
    assert np.all(p >= LEVEL), summary


def test_the_truth_held_out_moves_each_rank_by_at_most_its_own_weight(calibration: Calibration) -> None:
    # with correct normalised weights the held-out weights are w_i / (1 - w_truth), and the
    # two ranks differ by w_truth * |rank_held - tie| <= w_truth (a little rounding allowed)
    gap = np.abs(calibration.held_out - calibration.ranks)
    assert np.all(gap <= calibration.truth_weight[np.newaxis, :] + 1e-12), calibration.report()


def test_the_observation_narrows_the_posterior(calibration: Calibration) -> None:
    # SBC alone would pass an update that ignored the observation (the prior is calibrated):
    # that would give 1 here; a normal prior and likelihood would give about 0.37, and the
    # skewed prior about 0.3
    assert calibration.narrowing.mean() < 0.6, calibration.report()


def test_a_likelihood_three_times_too_wide_is_rejected(calibration: Calibration) -> None:
    """The power check: the same test rejects a miscalibrated update, for the right reason."""
    p = p_values(calibration.wrong)
    assert p[OBSERVED] < LEVEL, calibration.report()
    # too wide: the truth falls too rarely in the posterior's tails (the outer bins)
    outer = np.mean((calibration.wrong[OBSERVED] < 1 / BINS) | (calibration.wrong[OBSERVED] >= 1 - 1 / BINS))
    assert outer < 0.5 * 2 / BINS, calibration.report()
