"""NumPy reference implementation of the nhsrisk structural model (version 2).

This is the model as a careful analyst would write it without numba: every
input is drawn for all draws at once from a :class:`numpy.random.Generator`,
and the model is evaluated on whole arrays of shape ``(draw, year, programme,
staff_group)``. There is no Python loop over draws or years; the only Python
loops run over the handful of inputs, programmes and staff groups while arrays
are assembled or summed.

It follows the kernel's model (``evaluate_block`` and ``_value_and_appraisal``
in ``nhsrisk._kernels``; ``docs/model.md``) equation for equation, and
operation for operation wherever the order of floating-point operations could
matter, so that with the same inputs the two agree to rounding
(``tests/test_reference_model.py`` checks 1e-12), and with independent random
numbers they agree in distribution. It reads the model's declaration
(:mod:`nhsrisk._model`): the inputs by their field names (``RISK_INPUTS``,
``PROGRAMME_INPUTS``...) and the outputs by :data:`nhsrisk._model.OUTPUTS`,
whose names and dimensions it returns. What it does *not* share with the
package is the arithmetic: the real-terms spend, budget changes, discount
factors and residual annuities are computed here from the scenario
(:func:`model_arrays`), and the tests compare them with the plan's.

It serves two purposes:

- an independent check of the kernel (``tests/test_reference_model.py``);
- the "plain NumPy" baseline that ``python -m benchmarks.compare`` times the
  kernel against.

The random numbers are NOT the kernel's (the kernel uses counter-based Philox
streams keyed by input name; this uses one ``numpy.random.default_rng(seed)``),
so results agree in distribution, not draw by draw. Correlated inputs (the
scenario's ``correlations`` table) are drawn through a Gaussian copula built
here from the rank correlations (normal-scale correlation ``2 sin(pi r / 6)``)
and inverted with each input's exact quantile function.

The v2 equations, one draw, year ``t = 0, 1, ...`` of the appraisal period,
programme ``p``, staff group ``g`` (B: planned spend, real; C: budget change,
real):

- raid_t = (sum_p B[p,t] + C[p,t] > 0) and u_t < raid_probability;
  F[p,t] = (B[p,t] + C[p,t]) (1 - raid_t fraction_t exposure_p).
- o_p = black_swan_overrun if black_swan > 0.5 else cost_overrun;
  A[p,t] = min(1, sum_{s<=t} F / (max(1, o_p) sum_{s<=t} B)), 1 while nothing
  is planned yet.
- level_max = ceiling capacity A**elasticity (0 when A = 0); end = last
  funded year + 1 + floor(min(support_years, years)); while t < end, u = level_max
  S((t + 0.5 - midpoint - delay) steepness) and running cost =
  running_cost in_use, in_use = capital before t + half of F[p,t] (but see
  the do-minimum below); after, u = reached
  (1 - decay)**(t + 0.5 - end) with reached = level_max[end - 1] S((end -
  midpoint - delay) steepness), and no running cost.
- do-minimum u0 = do_minimum_ceiling S((t + 0.5 - do_minimum_midpoint)
  do_minimum_steepness); additional uptake a = max(0, u - u0). While
  supported, the running cost counts only the additional share of the systems
  in use: running_cost in_use (u - u0) / u if u > u0, none if u <= u0 and
  u0 > 0, all of it if neither path has uptake.
- Segments s (age band a x quintile q; one segment "all" without [population]):
  share pi_s = age_share[a] quintile_share[q]; contacts c_s = contacts_by_age[a]
  + contact_gradient g_q, g_q = (n_q - 1 - q)/(n_q - 1); contact weight w_s =
  pi_s c_s / sum pi c. Exclusion before inclusion x_s = logistic(logit(profile[a])
  + g_q ln(odds_ratio) + delta), delta making the mean over the headline age bands
  (weights pi_s) equal digital_exclusion: solved on a grid of 1,025 headline values
  (0 to 1) and interpolated linearly; without [population], x_s = digital_exclusion.
- x_{s,t} = x_s max(0, 1 - sum_p mask[p,s] excluded_share_reached_p a[p,t]), mask 1 on
  the segments an inclusion programme targets; X_t = sum_s w_s x_{s,t}.
- Savings that need patients online use a[p,t] (1 - online_dependent_share_p X_t).
- H[t,p,g] = fte hours addressable recovered a[t,p], scaled down per (t, g)
  to at most fte hours max_release_share.
- kept = 1 - social_care_share leakage; time = sum_g H cost_per_hour
  released_time_used kept; cash = time cashed_share + non_staff_savings a;
  non-cash = time - time cashed_share; patient = contacts (1 - X_t) a
  (value_per_contact - induced_demand_cost) kept; dual running = contacts a X_t
  dual_running_cost (a cost); by quintile and age band, the same with w_s (1 -
  x_{s,t}) and w_s x_{s,t} in place of (1 - X_t) and X_t.
- Distributional NPV = NPV + U (PV non-cash + PV patient), U = sum_q (W_q - 1)
  sum_{s in q} w_s, W_q = income_ratio_q ** -eta normalised to a population mean of 1.
- Present values with the Green Book factors; residual value = sum_p
  max(0, value - running in the last year) x annuity_p.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import scipy.optimize
import scipy.special

from nhsrisk import _model as M
from nhsrisk.distributions import (
    PERT,
    Bernoulli,
    Beta,
    Discrete,
    Distribution,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
)
from nhsrisk.scenario import DEFAULT_SCENARIO, LONG_TERM_FROM_YEAR, Scenario, load_scenario

__all__ = ["evaluate_reference", "input_names", "model_arrays", "sample_inputs", "simulate_reference"]

#: Inputs drawn once per year rather than once per draw, by key path: ``risks.raid_event``
#: (the standard uniform compared with ``raid_probability``) and ``risks.raid_fraction``.
PER_YEAR = tuple(f"risks.{name}" for name in M.YEAR_INPUTS)
#: Name of the per-year uniforms that decide whether a raid happens (raid if u < raid_probability).
RAID_EVENT = f"risks.{M.YEAR_INPUTS[M.RAID_EVENT]}"

Method = Literal["numpy", "ppf", "scipy", "squigglepy"]


def input_names(scenario: Scenario) -> dict[str, Distribution]:
    """Every model input by key path (the names ``nhsrisk.simulate`` gives its input variables).

    The field names come from :mod:`nhsrisk._model`; a programme's optional
    tables (``patients``, ``inclusion``) add their fields only when present
    (the model reads zero otherwise). ``risks.raid_event`` is the standard
    uniform compared with ``raid_probability`` each year; it and
    ``risks.raid_fraction`` are drawn once per year.
    """
    names: dict[str, Distribution] = {}
    for name in M.RISK_INPUTS:
        names[f"risks.{name}"] = getattr(scenario.risks, name).distribution
    for path in PER_YEAR:
        names[path] = (
            Uniform(0.0, 1.0) if path == RAID_EVENT else getattr(scenario.risks, path[6:]).distribution
        )
    for gid, group in scenario.staff_groups.items():
        for name in M.GROUP_INPUTS:
            names[f"staff_groups.{gid}.{name}"] = getattr(group, name).distribution
    for pid, programme in scenario.programmes.items():
        for name in M.PROGRAMME_INPUTS:
            names[f"programmes.{pid}.{name}"] = getattr(programme, name).distribution
        for table_name, fields in M.OPTIONAL_TABLES:
            table = getattr(programme, table_name)
            if table is not None:
                for name in fields:
                    quantity = getattr(table, name)
                    if quantity is not None:  # an optional key left out reads zero
                        names[f"programmes.{pid}.{table_name}.{name}"] = quantity.distribution
        for gid, effect in programme.staff.items():
            for name in M.PAIR_INPUTS:
                names[f"programmes.{pid}.staff.{gid}.{name}"] = getattr(effect, name).distribution
    return names


def model_arrays(scenario: Scenario) -> dict[str, np.ndarray]:
    """The scenario's fixed structure, computed here from the scenario (not by the plan builder).

    Returns
    -------
    dict of str to numpy.ndarray
        Named as in :data:`nhsrisk._model.MODEL_ARRAYS`: ``planned_spend`` and
        ``budget_change`` (programme, year) in ``price_base`` prices [GBP/year]
        (cash times ``deflator[price_base] / deflator[year]``); ``last_funded``
        (programme,), index of the last year with planned spend;
        ``discount_factor`` (year,), the Green Book factors (``discount_rate``
        to year 30, ``long_term_discount_rate`` after); ``residual_annuity``
        (programme,), the sum of the discount factors of the ``residual_life``
        whole years after the period.
    """
    years = list(scenario.years)
    n_year = len(years)
    deflator = dict(zip(scenario.deflator.years, scenario.deflator.index, strict=True))
    real = np.array([deflator[scenario.price_base] / deflator[year] for year in years])
    cash = np.array([p.spend.values for p in scenario.programmes.values()], dtype=float)
    planned = cash * real
    change = np.zeros_like(planned)
    position = {pid: p for p, pid in enumerate(scenario.programmes)}
    for item in scenario.budget_changes:
        t = years.index(item.year)
        change[position[item.programme], t] += item.amount * real[t]
    last_funded = np.array([np.flatnonzero(row > 0)[-1] for row in cash], dtype=np.int64)
    life = [int(p.residual_life.distribution.mean()) for p in scenario.programmes.values()]

    short = scenario.discount_rate.distribution.mean()
    long = scenario.long_term_discount_rate.distribution.mean()
    last_short = LONG_TERM_FROM_YEAR - 1  # year 30: the last year discounted at the short rate

    def factor(t: np.ndarray) -> np.ndarray:
        return np.where(
            t <= last_short,
            (1.0 + short) ** -t,
            (1.0 + short) ** -float(last_short) * (1.0 + long) ** -(t - last_short),
        )

    discount = factor(np.arange(n_year, dtype=float))
    annuity = np.array([factor(np.arange(n_year, n_year + n, dtype=float)).sum() for n in life])
    return {
        "planned_spend": planned,
        "budget_change": change,
        "last_funded": last_funded,
        "discount_factor": discount,
        "residual_annuity": annuity,
        **_segment_arrays(scenario),
    }


#: Headline values at which the exclusion by segment is tabulated (0 to 1 in steps of 1/1024).
EXCLUSION_GRID = 1025


def _segment_arrays(scenario: Scenario) -> dict[str, np.ndarray]:
    """Segment weights, exclusion table, inclusion targets and the distributional uplift."""
    population = scenario.population
    n_prog = len(scenario.programmes)
    if population is None:
        return {
            "segment_weight": np.ones(1),
            "segment_quintile": np.zeros(1, dtype=np.int64),
            "segment_age": np.zeros(1, dtype=np.int64),
            "exclusion_table": np.empty((0, 1)),
            "inclusion_mask": np.ones((n_prog, 1)),
            "distributional_uplift": np.zeros(2),
        }
    ages, quintiles = list(population.age_bands), list(population.quintiles)
    rows = [(a, q) for a in range(len(ages)) for q in range(len(quintiles))]
    gradient = [(len(quintiles) - 1 - q) / (len(quintiles) - 1) for _, q in rows]
    pi = np.array([population.age_share.values[a] * population.quintile_share.values[q] for a, q in rows])
    pi = pi / pi.sum()
    contacts = np.array(
        [
            population.contacts_by_age.values[a] + population.contact_gradient.distribution.mean() * g
            for (a, _), g in zip(rows, gradient, strict=True)
        ]
    )
    weight = pi * contacts / np.sum(pi * contacts)
    odds = math.log(population.exclusion_odds_ratio_deprivation.distribution.mean())
    base = np.array(
        [
            math.log(
                population.exclusion_profile_by_age.values[a]
                / (1 - population.exclusion_profile_by_age.values[a])
            )
            + g * odds
            for (a, _), g in zip(rows, gradient, strict=True)
        ]
    )
    covered = population.headline_age_bands or population.age_bands
    calibration = np.array([pi[s] if ages[a] in covered else 0.0 for s, (a, _) in enumerate(rows)])
    calibration = calibration / calibration.sum()
    table = np.zeros((EXCLUSION_GRID, len(rows)))
    table[-1] = 1.0
    for k in range(1, EXCLUSION_GRID - 1):
        target = k / (EXCLUSION_GRID - 1)
        delta = scipy.optimize.brentq(
            lambda d, target=target: float(np.sum(calibration * scipy.special.expit(base + d))) - target,
            -80.0,
            80.0,
            xtol=1e-15,
            rtol=8.9e-16,
            maxiter=500,
        )
        table[k] = scipy.special.expit(base + delta)
    mask = np.ones((n_prog, len(rows)))
    for p, programme in enumerate(scenario.programmes.values()):
        inclusion = programme.inclusion
        if inclusion is None:
            continue
        for s, (a, q) in enumerate(rows):
            in_age = inclusion.target_age_bands is None or ages[a] in inclusion.target_age_bands
            in_q = inclusion.target_quintiles is None or quintiles[q] in inclusion.target_quintiles
            mask[p, s] = 1.0 if in_age and in_q else 0.0
    eta = population.inequality_aversion.distribution.mean()
    income = np.asarray(population.income_ratio_by_quintile.values)
    welfare = income**-eta if eta > 0 else np.ones_like(income)
    welfare = welfare / np.dot(population.quintile_share.values, welfare)
    by_quintile = np.array(
        [weight[[s for s, (_, q) in enumerate(rows) if q == i]].sum() for i in range(len(quintiles))]
    )
    return {
        "segment_weight": weight,
        "segment_quintile": np.array([q for _, q in rows], dtype=np.int64),
        "segment_age": np.array([a for a, _ in rows], dtype=np.int64),
        "exclusion_table": table,
        "inclusion_mask": mask,
        "distributional_uplift": np.array([float(np.sum((welfare - 1.0) * by_quintile)), *(welfare - 1.0)]),
    }


def _draw(dist: Distribution, rng: np.random.Generator, size: tuple[int, ...], method: Method) -> np.ndarray:
    """Draw ``size`` values of ``dist``: the natural NumPy sampler, or inversion of uniforms."""
    if dist.is_fixed:
        return np.full(size, float(dist.support()[0]))
    if method == "ppf":
        return np.asarray(dist.ppf(rng.random(size)), dtype=float)
    if method == "scipy":
        return np.asarray(dist.to_scipy().rvs(size=size, random_state=rng), dtype=float)
    if method == "squigglepy":
        return _draw_squigglepy(dist, rng, size)
    if isinstance(dist, Uniform):
        return rng.uniform(dist.low, dist.high, size)
    if isinstance(dist, Triangular):
        return rng.triangular(dist.low, dist.mode, dist.high, size)
    if isinstance(dist, PERT):
        width = dist.high - dist.low
        alpha = 1.0 + dist.lam * (dist.mode - dist.low) / width
        beta = 1.0 + dist.lam * (dist.high - dist.mode) / width
        return dist.low + width * rng.beta(alpha, beta, size)
    if isinstance(dist, Beta):
        return dist.low + (dist.high - dist.low) * rng.beta(dist.alpha, dist.beta, size)
    if isinstance(dist, Normal):
        return rng.normal(dist.mu, dist.sd, size)
    if isinstance(dist, LogNormal):
        return rng.lognormal(dist.mu, dist.sigma, size)
    if isinstance(dist, Bernoulli):
        return (rng.random(size) < dist.p).astype(float)
    if isinstance(dist, Discrete):
        return rng.choice(np.asarray(dist.values), size=size, p=np.asarray(dist.probabilities))
    # TruncatedNormal and anything added later: exact inversion.
    return np.asarray(dist.ppf(rng.random(size)), dtype=float)


def _squigglepy_distribution(sq: Any, dist: Distribution) -> Any:
    """The distribution of the squigglepy module ``sq`` equal to ``dist``, or None where it has none.

    squigglepy has no truncated normal (its ``lclip``/``rclip`` pile the tails
    onto the bounds instead of removing them), so a TruncatedNormal is left to
    inversion, as in the ``"numpy"`` method.
    """
    if isinstance(dist, Uniform):
        return sq.uniform(dist.low, dist.high)
    if isinstance(dist, Triangular):
        return sq.triangular(dist.low, dist.mode, dist.high)
    if isinstance(dist, PERT):
        return sq.pert(dist.low, dist.mode, dist.high, lam=dist.lam)
    if isinstance(dist, Beta):
        return dist.low + (dist.high - dist.low) * sq.beta(dist.alpha, dist.beta)
    if isinstance(dist, Normal):
        return sq.norm(mean=dist.mu, sd=dist.sd)
    if isinstance(dist, LogNormal):
        return sq.lognorm(norm_mean=dist.mu, norm_sd=dist.sigma)
    if isinstance(dist, Bernoulli):
        return sq.bernoulli(dist.p)
    if isinstance(dist, Discrete):
        return sq.discrete(dict(zip(dist.values, dist.probabilities, strict=True)))
    return None


def _draw_squigglepy(dist: Distribution, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
    """Draw ``size`` values of ``dist`` with ``squigglepy.sample`` (seeded from ``rng``)."""
    import squigglepy as sq  # the bench extra: only this comparison needs it

    law = _squigglepy_distribution(sq, dist)
    if law is None:
        return np.asarray(dist.ppf(rng.random(size)), dtype=float)
    # squigglepy draws from its own global generator: seed it from ours, so a run is reproducible
    sq.set_seed(int(rng.integers(2**63)))
    count = int(np.prod(size))
    return np.asarray(sq.sample(law, n=count, verbose=False), dtype=float).reshape(size)


def _correlated_uniforms(scenario: Scenario, draws: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Uniforms of the correlated inputs, by key path, from a Gaussian copula (empty if none).

    The normal-scale correlation ``2 sin(pi r / 6)`` gives Spearman correlation
    ``r``; its square root is taken by an eigendecomposition (any ``L`` with
    ``L L' = R`` gives the same law), so a singular matrix works too.
    """
    correlations = scenario.correlations
    if correlations is None:
        return {}
    rank = np.asarray(correlations.matrix, dtype=float)
    normal = 2.0 * np.sin(np.pi * rank / 6.0)
    np.fill_diagonal(normal, 1.0)
    eigenvalues, vectors = np.linalg.eigh(normal)
    root = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    z = rng.standard_normal((draws, len(correlations.inputs))) @ root.T
    u = scipy.special.ndtr(z)
    return {name: u[:, k] for k, name in enumerate(correlations.inputs)}


def sample_inputs(
    scenario: Scenario, draws: int, rng: np.random.Generator, *, method: Method = "numpy"
) -> dict[str, np.ndarray]:
    """Draw every model input: shape ``(draws,)``, or ``(draws, year)`` for the per-year ones.

    Parameters
    ----------
    scenario : Scenario
    draws : int
    rng : numpy.random.Generator
    method : {"numpy", "ppf"}, default="numpy"
        ``"numpy"`` uses each distribution's natural NumPy sampler
        (``Generator.beta`` for Beta and PERT, ``lognormal``, ``choice``...);
        ``"ppf"`` draws uniforms and inverts them with the exact ``dist.ppf``
        (slow for Beta and PERT: scipy's ``betaincinv``); ``"scipy"`` calls
        ``rvs`` of each input's ``scipy.stats`` distribution (``to_scipy()``);
        ``"squigglepy"`` samples each input's squigglepy equivalent (the
        ``bench`` extra; a TruncatedNormal, which squigglepy lacks, by
        inversion). Correlated inputs are always inverted from the copula's
        uniforms with ``dist.ppf``.
    """
    n_year = len(scenario.years)
    correlated = _correlated_uniforms(scenario, draws, rng)
    out = {}
    for name, dist in input_names(scenario).items():
        if name in correlated:
            out[name] = np.asarray(dist.ppf(correlated[name]), dtype=float)
            continue
        size = (draws, n_year) if name in PER_YEAR else (draws,)
        out[name] = _draw(dist, rng, size, method)
    return out


def _logistic(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))``, as the kernel writes it (an overflowing exp gives 0)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _in_order(terms: np.ndarray) -> np.ndarray:
    """Running totals along axis 1, added one term at a time in order (as the kernel adds them)."""
    return np.cumsum(terms, axis=1)


def evaluate_reference(
    scenario: Scenario, inputs: Mapping[str, np.ndarray | float], draws: int
) -> dict[str, np.ndarray]:
    """Evaluate the structural model (version 2) on whole arrays of inputs.

    Parameters
    ----------
    scenario : Scenario
        Supplies the structure (years, programmes, staff groups, planned spend,
        budget changes, deflator, discount rates, residual lives).
    inputs : mapping of str to array
        Inputs by key path (see :func:`input_names`), each of shape ``(draws,)``
        or ``(draws, year)`` for ``risks.raid_fraction`` and ``risks.raid_event``.
        A missing key falls back to the scenario's value if it is fixed.
    draws : int

    Returns
    -------
    dict of str to numpy.ndarray
        Every output of :data:`nhsrisk._model.OUTPUTS`, with ``draw`` first and
        then the declared dimensions: ``raid`` (draw, year), ``spend``,
        ``funding_adequacy``, ``uptake``... (draw, year, programme),
        ``hours_released`` (draw, year, programme, staff_group),
        ``hours_capped`` (draw, year, staff_group), ``cumulative_value``
        (draw, year), present values, ``npv`` and ``bcr`` (draw,).
    """
    n = draws
    n_year = len(scenario.years)
    programmes = list(scenario.programmes.items())
    groups = list(scenario.staff_groups)
    n_prog, n_group = len(programmes), len(groups)
    distributions = input_names(scenario)
    structure = model_arrays(scenario)

    def col(name: str) -> np.ndarray:
        shape = (n, n_year) if name in PER_YEAR else (n,)
        value = inputs.get(name)
        if value is None:
            dist = distributions[name]
            if not dist.is_fixed:
                raise KeyError(f"input {name!r} is uncertain but missing from 'inputs'")
            value = float(dist.support()[0])
        return np.broadcast_to(np.asarray(value, dtype=float), shape)

    def risk(name: str) -> np.ndarray:
        return col(f"risks.{name}")

    table_of = {name: table for table, fields in M.OPTIONAL_TABLES for name in fields}

    def per_programme(field: str) -> np.ndarray:
        """(draw, programme); zero for a programme without the optional table holding ``field``."""
        columns = []
        for pid, programme in programmes:
            table = table_of.get(field)
            if table is None:
                columns.append(col(f"programmes.{pid}.{field}"))
            elif getattr(programme, table) is None or getattr(getattr(programme, table), field) is None:
                columns.append(np.zeros(n))  # the table, or this optional key of it, is absent
            else:
                columns.append(col(f"programmes.{pid}.{table}.{field}"))
        return np.stack(columns, axis=-1)

    def per_group(field: str) -> np.ndarray:
        return np.stack([col(f"staff_groups.{gid}.{field}") for gid in groups], axis=-1)

    t = np.arange(n_year, dtype=float)[None, :, None]  # (1, T, 1)
    planned = structure["planned_spend"].T  # (T, P), real terms
    funded = planned + structure["budget_change"].T  # (T, P): the plan after budget changes

    # --- budget raids: only a year with capital to spend can be raided ---------------------
    money = np.zeros(n_year)
    for p in range(n_prog):
        money += funded[:, p]
    raid = (money > 0.0)[None, :] & (col(RAID_EVENT) < risk("raid_probability")[:, None])  # (n, T)
    cut = np.where(raid, col(f"risks.{M.YEAR_INPUTS[M.RAID_FRACTION]}"), 0.0)  # (n, T)
    spend = funded[None] * (1.0 - cut[:, :, None] * per_programme("raid_exposure")[:, None, :])  # (n, T, P)

    # --- funding adequacy to date: received over needed, an underrun never hides a cut -----
    received = _in_order(spend)  # capital received up to and including year t
    before = np.concatenate([np.zeros((n, 1, n_prog)), received[:, :-1]], axis=1)  # up to year t - 1
    needed = _in_order(planned[None])[0]  # (T, P)
    overrun = np.where(
        per_programme("black_swan") > 0.5, per_programme("black_swan_overrun"), per_programme("cost_overrun")
    )
    need = needed[None] * np.maximum(overrun, 1.0)[:, None, :]  # (n, T, P)
    with np.errstate(divide="ignore", invalid="ignore"):
        adequacy = np.where(need > 0.0, np.minimum(received / need, 1.0), 1.0)
        # no money, no technology, whatever the elasticity
        factor = np.where(adequacy > 0.0, adequacy ** risk("funding_elasticity")[:, None, None], 0.0)

    # --- uptake with the investment, mid-year; support, decay and running costs -----------
    level_max = (per_programme("uptake_ceiling") * risk("staff_capacity")[:, None])[:, None, :] * factor
    shift = per_programme("uptake_midpoint") + per_programme("delivery_delay")  # (n, P)
    steepness = per_programme("uptake_steepness")
    # support beyond the period ends after it (the kernel caps support_years at the period's length)
    end = structure["last_funded"][None, :] + 1 + np.floor(np.minimum(per_programme("support_years"), n_year))
    supported = t < end[:, None, :]  # (n, T, P)
    rising = level_max * _logistic((t + 0.5 - shift[:, None, :]) * steepness[:, None, :])
    # what was reached when support ended: the level_max of year end - 1, at the end of that year
    last_supported = (end - 1).astype(np.int64)
    within = last_supported <= n_year - 1
    at_end = np.take_along_axis(level_max, np.minimum(last_supported, n_year - 1)[:, None, :], axis=1)[:, 0]
    reached = np.where(within, at_end * _logistic((end - shift) * steepness), 0.0)  # (n, P)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        fading = reached[:, None, :] * (1.0 - per_programme("benefit_decay"))[:, None, :] ** (
            t + 0.5 - end[:, None, :]
        )
    uptake = np.where(supported, rising, fading)

    # --- the do-minimum counterfactual: only uptake beyond it counts -----------------------
    base = per_programme("do_minimum_ceiling")[:, None, :] * _logistic(
        (t + 0.5 - per_programme("do_minimum_midpoint")[:, None, :])
        * per_programme("do_minimum_steepness")[:, None, :]
    )
    additional = np.where(uptake > base, uptake - base, 0.0)

    # --- running costs while supported, for the additional share of the systems in use ------
    in_use = before + 0.5 * spend  # systems bought during the year run for half of it
    all_running = per_programme("running_cost")[:, None, :] * in_use
    with np.errstate(divide="ignore", invalid="ignore"):
        # systems that would have run anyway (the do-minimum) cost nothing extra to run:
        # the additional share of uptake, none where the do-minimum leads, all with neither path
        extra = np.where(uptake > base, all_running * ((uptake - base) / uptake), 0.0)
    running = np.where(supported, np.where((uptake <= base) & (base <= 0.0), all_running, extra), 0.0)

    # --- digital exclusion by segment, lowered by inclusion programmes as they spread ------
    headline = risk("digital_exclusion")
    table = structure["exclusion_table"]
    if table.shape[0] == 0:
        before_inclusion = headline[:, None]  # (n, S): the one segment, the headline itself
    else:
        position = headline * (table.shape[0] - 1)
        k = np.minimum(position.astype(np.int64), table.shape[0] - 2)
        fraction = (position - k)[:, None]
        before_inclusion = table[k] + (table[k + 1] - table[k]) * fraction
    mask = structure["inclusion_mask"]  # (P, S)
    reach = per_programme("excluded_share_reached")
    share = np.ones((n, n_year, mask.shape[1]))
    for p in range(n_prog):
        share = share - mask[p][None, None, :] * reach[:, None, p, None] * additional[:, :, p, None]
    by_segment = np.where(share > 0.0, before_inclusion[:, None, :] * share, 0.0)  # (n, T, S)
    segment_weight = structure["segment_weight"]
    exclusion = np.zeros((n, n_year))  # contact-weighted, added segment by segment as the kernel does
    for s in range(segment_weight.size):
        exclusion = exclusion + segment_weight[s] * by_segment[:, :, s]
    online = additional * (1.0 - per_programme("online_dependent_share")[:, None, :] * exclusion[:, :, None])

    # --- staff hours released, capped per staff group --------------------------------------
    fte_hours = per_group("fte") * per_group("hours_per_fte")  # (n, G)
    full = np.zeros((n, n_prog, n_group))  # hours at full additional uptake
    position = {gid: g for g, gid in enumerate(groups)}
    for p, (pid, programme) in enumerate(programmes):
        for gid in programme.staff:
            g = position[gid]
            pair = f"programmes.{pid}.staff.{gid}."
            full[:, p, g] = (
                fte_hours[:, g]
                * col(pair + M.PAIR_INPUTS[M.ADDRESSABLE_SHARE])
                * col(pair + M.PAIR_INPUTS[M.RECOVERED_FRACTION])
            )
    hours = full[:, None, :, :] * online[:, :, :, None]  # (n, T, P, G)
    total = np.zeros((n, n_year, n_group))  # summed programme by programme, as the kernel does
    for p in range(n_prog):
        total += hours[:, :, p, :]
    releasable = (fte_hours * per_group("max_release_share"))[:, None, :]  # (n, 1, G)
    capped = total > releasable
    scale = np.divide(releasable, total, out=np.ones_like(total), where=capped)
    if capped.any():
        hours *= scale[:, :, None, :]

    # --- value by kind ----------------------------------------------------------------------
    cost = per_group("cost_per_hour")
    staff_value = np.zeros((n, n_year, n_prog))
    for g in range(n_group):
        staff_value += hours[..., g] * cost[:, None, None, g]
    kept = (1.0 - per_programme("social_care_share") * risk("social_care_leakage")[:, None])[:, None, :]
    time_value = staff_value * risk("released_time_used")[:, None, None] * kept
    cashed = time_value * per_programme("cashed_share")[:, None, :]
    cash = cashed + per_programme("non_staff_savings")[:, None, :] * online
    redeployed = time_value - cashed
    contacts = per_programme("contacts_per_year")[:, None, :]
    per_contact = (per_programme("value_per_contact") - per_programme("induced_demand_cost"))[:, None, :]
    patient = contacts * (1.0 - exclusion)[:, :, None] * additional * per_contact * kept
    dual = contacts * additional * exclusion[:, :, None] * per_programme("dual_running_cost")[:, None, :]
    value = cash + redeployed + patient
    net = value - spend - running - dual

    # --- totals: added year by year, programme by programme, as the kernel adds them --------
    def flat(a: np.ndarray) -> np.ndarray:
        return a.reshape(n, n_year * n_prog)

    cumulative = _in_order(flat(value))[:, n_prog - 1 :: n_prog]  # (n, T)
    discount = structure["discount_factor"][None, :, None]

    def present(a: np.ndarray) -> np.ndarray:
        return _in_order(flat(a * discount))[:, -1]

    pv_capital = present(spend)
    pv_running = present(running)
    pv_cash = present(cash)
    pv_redeployed = present(redeployed)
    pv_patient = present(patient)
    pv_dual = present(dual)
    # the last year's net flow continues for the assets' remaining life
    annuity = structure["residual_annuity"]
    last_net = value[:, -1, :] - running[:, -1, :] - dual[:, -1, :]
    residual = np.where((annuity[None, :] > 0.0) & (last_net > 0.0), last_net * annuity[None, :], 0.0)
    pv_residual = np.zeros(n)
    for p in range(n_prog):
        pv_residual = pv_residual + residual[:, p]
    pv_benefits = pv_cash + pv_redeployed + pv_patient + pv_residual
    pv_costs = pv_capital + pv_running + pv_dual
    npv = pv_benefits - pv_costs
    bcr = np.divide(pv_benefits, pv_costs, out=np.zeros(n), where=pv_costs > 0.0)
    # --- patient benefits and dual running by the segment of the patients concerned -----------
    quintile_of, age_of = structure["segment_quintile"], structure["segment_age"]
    n_quintile, n_age = int(quintile_of.max()) + 1, int(age_of.max()) + 1
    flows = contacts * additional * discount  # (n, T, P); zero for a programme without patients
    patient_by = np.einsum("ntp,nts->ns", flows * per_contact * kept, segment_weight * (1.0 - by_segment))
    dual_cost = per_programme("dual_running_cost")[:, None, :]
    dual_by = np.einsum("ntp,nts->ns", flows * dual_cost, segment_weight * by_segment)

    def margin(values: np.ndarray, of: np.ndarray, size: int) -> np.ndarray:
        return np.stack([values[:, of == i].sum(axis=1) for i in range(size)], axis=1)

    # Green Book weights: freed staff time shared by contacts, the patient channel where it falls
    premium = structure["distributional_uplift"]
    patient_by_quintile = margin(patient_by, quintile_of, n_quintile)
    npv_distributional = npv + premium[0] * pv_redeployed + patient_by_quintile @ premium[1:]

    results = {
        "raid": raid,
        "spend": spend,
        "running_cost": running,
        "funding_adequacy": adequacy,
        "uptake": uptake,
        "additional_uptake": additional,
        "hours_released": hours,
        "hours_capped": capped,
        "value": value,
        "cash_releasing_value": cash,
        "non_cash_releasing_value": redeployed,
        "patient_value": patient,
        "net_benefit": net,
        "cumulative_value": cumulative,
        "pv_capital_cost": pv_capital,
        "pv_running_cost": pv_running,
        "pv_cash_releasing": pv_cash,
        "pv_non_cash_releasing": pv_redeployed,
        "pv_patient": pv_patient,
        "pv_residual_value": pv_residual,
        "pv_benefits": pv_benefits,
        "pv_costs": pv_costs,
        "npv": npv,
        "bcr": bcr,
        "contact_weighted_exclusion": exclusion,
        "dual_running_cost": dual,
        "pv_dual_running_cost": pv_dual,
        "pv_patient_by_quintile": margin(patient_by, quintile_of, n_quintile),
        "pv_patient_by_age_band": margin(patient_by, age_of, n_age),
        "pv_dual_running_by_quintile": margin(dual_by, quintile_of, n_quintile),
        "pv_dual_running_by_age_band": margin(dual_by, age_of, n_age),
        "npv_distributional": npv_distributional,
    }
    sizes = {"year": n_year, "programme": n_prog, "staff_group": n_group, "quintile": n_quintile}
    _check_declared(results, {**sizes, "age_band": n_age}, n)
    return {name: results[name] for name in M.OUTPUTS}


def _check_declared(results: Mapping[str, np.ndarray], sizes: Mapping[str, int], draws: int) -> None:
    """Fail loudly if the outputs computed here are not exactly those declared, with their shapes."""
    missing = sorted(set(M.OUTPUTS) - set(results))
    extra = sorted(set(results) - set(M.OUTPUTS))
    if missing or extra:
        raise AssertionError(
            f"benchmarks/reference.py is out of step with nhsrisk._model.OUTPUTS: missing {missing}, "
            f"not declared {extra}"
        )
    for name, out in M.OUTPUTS.items():
        shape = (draws, *(sizes[d] for d in out.dims))
        if results[name].shape != shape or (results[name].dtype == bool) != out.boolean:
            raise AssertionError(
                f"reference output {name!r} has shape {results[name].shape} and dtype "
                f"{results[name].dtype}; declared {shape}, boolean={out.boolean}"
            )


def run_outputs(ds: Any) -> dict[str, np.ndarray]:
    """The outputs of a results Dataset, draws first, in the layout :func:`evaluate_reference` returns."""
    return {name: ds[name].transpose("draw", ...).values for name in M.OUTPUTS}


def run_inputs(ds: Any) -> dict[str, np.ndarray]:
    """A run's own kept inputs of every draw, by key path, as :func:`evaluate_reference` takes them.

    The kernel does not keep the raid-event uniforms, only whether a raid happened:
    a uniform of 0 is below any raid probability > 0, and 1 is never below it.
    """
    inputs = {
        name: ds[name].transpose("draw", ...).values
        for name in ds.data_vars
        if ds[name].attrs.get("sampled_input")
    }
    inputs["risks.raid_event"] = np.where(ds["raid"].transpose("draw", ...).values, 0.0, 1.0)
    return inputs


#: Draws the reference model evaluates at once (its per-segment arrays take 2 kB a draw each).
REFERENCE_CHUNK = 2**17


def simulate_reference(
    scenario: Scenario | str = DEFAULT_SCENARIO,
    draws: int = 100_000,
    seed: int | None = None,
    *,
    method: Method = "numpy",
    keep_inputs: bool = False,
) -> dict[str, np.ndarray]:
    """Sample the inputs with ``numpy.random.default_rng(seed)`` and evaluate the model.

    Returns the outputs of :func:`evaluate_reference` (``npv``, ``bcr``,
    ``cumulative_value``, ``value``, ``hours_released``, ``uptake``,
    ``spend``, ...); with ``keep_inputs`` also every sampled input by key path.
    """
    scenario = load_scenario(scenario)
    rng = np.random.default_rng(seed)
    inputs = sample_inputs(scenario, draws, rng, method=method)
    # Whole arrays of draws by year by segment (25 segments) do not fit in memory at 10**6 draws:
    # evaluate in chunks of draws, as an analyst would, and join the outputs (draw first).
    pieces = []
    for lo in range(0, draws, REFERENCE_CHUNK):
        hi = min(draws, lo + REFERENCE_CHUNK)
        part = {
            name: value[lo:hi] if isinstance(value, np.ndarray) and value.ndim else value
            for name, value in inputs.items()
        }
        pieces.append(evaluate_reference(scenario, part, hi - lo))
    out = (
        pieces[0]
        if len(pieces) == 1
        else {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]}
    )
    if keep_inputs:
        out.update(inputs)
    return out
