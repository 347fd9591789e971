"""Population segments for the kernel: shares, contact weights and digital exclusion by segment.

Segments are the cross product of a scenario's age bands and deprivation
quintiles (``[population]``), in the order age band major, quintile minor
(segment ``a * n_quintile + q``). Digital exclusion in a segment is

    x_s = logistic(logit(profile[a]) + g_q * ln(odds_ratio) + delta(x)),

with ``g_q`` running from 1 (most deprived) to 0 (least deprived) and
``delta(x)`` the shift that makes the population-weighted mean over the age
bands the headline describes (``headline_age_bands``: its surveys are of
adults) equal the sampled headline ``x`` (``risks.digital_exclusion``). The profile is fixed, so
``x_s`` is a function of ``x`` alone: it is tabulated here on a grid of
:data:`GRID` headline values, and the kernel interpolates linearly between
rows. Every row meets that constraint, and a linear interpolation of rows that
do is one that does, so the population-weighted exclusion of those bands equals
the headline to rounding in every draw.

A scenario without ``[population]`` has one segment, ``"all"``, and an empty
table: the kernel then uses the headline itself (the model before segments,
bit for bit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nhsrisk.scenario import Population

__all__ = ["GRID", "Segments", "build_segments", "exclusion_by_segment"]

#: Points of the headline-exclusion grid, 0 to 1 in steps of 1/1024.
GRID = 1025
#: The single segment of a scenario without a population table.
WHOLE = ("all",)


@dataclass(frozen=True)
class Segments:
    """The segment arrays of a scenario (see the module notes)."""

    age_bands: tuple[str, ...]
    quintiles: tuple[str, ...]
    population_share: np.ndarray  # (segment,), sums to 1
    contacts_per_person: np.ndarray  # (segment,), NHS contacts per person-year
    contact_weight: np.ndarray  # (segment,), share of all contacts, sums to 1
    age: np.ndarray  # (segment,), index of the age band
    quintile: np.ndarray  # (segment,), index of the quintile
    exclusion_table: np.ndarray  # (GRID, segment), or (0, 1) without a population table
    quintile_weight: np.ndarray  # (quintile,), Green Book distributional weight
    # (1 + quintile,): [0] the premium on freed staff time, sum over quintiles of (weight - 1) x
    # contact share; [1 + q] the premium on a benefit that falls in quintile q, weight - 1
    distributional_uplift: np.ndarray
    people: float  # population size (persons), 0 without a population table

    @property
    def segmented(self) -> bool:
        """True when the scenario describes its population by segment."""
        return self.exclusion_table.shape[0] > 0


def _shift(base_logit: np.ndarray, share: np.ndarray, headline: np.ndarray) -> np.ndarray:
    """Shift ``delta`` per headline value with ``sum(share * logistic(base_logit + delta)) = headline``.

    Bisection on [-80, 80], vectorised over the headline values, to the resolution of a double.
    """
    low = np.full(headline.shape, -80.0)
    high = np.full(headline.shape, 80.0)
    for _ in range(200):
        middle = 0.5 * (low + high)
        mean = (share * _expit(base_logit[None, :] + middle[:, None])).sum(axis=1)
        below = mean < headline
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
        if np.all(high - low <= 4e-16 * np.maximum(1.0, np.abs(middle))):
            break
    return 0.5 * (low + high)


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def build_segments(population: Population | None) -> Segments:
    """Tabulate the segments of ``population`` (None: the one segment ``"all"``)."""
    if population is None:
        return Segments(
            age_bands=WHOLE,
            quintiles=WHOLE,
            population_share=np.ones(1),
            contacts_per_person=np.ones(1),
            contact_weight=np.ones(1),
            age=np.zeros(1, dtype=np.int64),
            quintile=np.zeros(1, dtype=np.int64),
            exclusion_table=np.empty((0, 1)),
            quintile_weight=np.ones(1),
            distributional_uplift=np.zeros(2),
            people=0.0,
        )
    n_age, n_q = len(population.age_bands), len(population.quintiles)
    age = np.repeat(np.arange(n_age, dtype=np.int64), n_q)
    quintile = np.tile(np.arange(n_q, dtype=np.int64), n_age)
    # 1 in the most deprived quintile, 0 in the least, linear between
    deprivation = (n_q - 1 - quintile) / (n_q - 1) if n_q > 1 else np.zeros(n_q * n_age)
    share = (
        np.asarray(population.age_share.values)[age] * np.asarray(population.quintile_share.values)[quintile]
    )
    share = share / share.sum()
    gradient = population.contact_gradient.distribution.mean()
    contacts = np.asarray(population.contacts_by_age.values)[age] + gradient * deprivation
    if np.any(contacts < 0.0) or not np.any(contacts > 0.0):
        raise ValueError(
            "population: contacts_by_age plus contact_gradient must be >= 0 in every segment and > 0 in one"
        )
    weight = share * contacts / (share * contacts).sum()
    profile = np.asarray(population.exclusion_profile_by_age.values)
    odds_ratio = population.exclusion_odds_ratio_deprivation.distribution.mean()
    base_logit = np.log(profile / (1.0 - profile))[age] + deprivation * math.log(odds_ratio)
    # the headline describes the age bands its surveys cover (adults): the shift makes their
    # population-weighted exclusion equal it, and the other bands follow the profile
    covered = population.headline_age_bands or population.age_bands
    in_headline = np.isin(np.asarray(population.age_bands)[age], covered)
    calibration = np.where(in_headline, share, 0.0)
    calibration = calibration / calibration.sum()
    headline = np.linspace(0.0, 1.0, GRID)
    table = np.empty((GRID, n_age * n_q))
    table[0] = 0.0
    table[-1] = 1.0
    inner = headline[1:-1]
    table[1:-1] = _expit(base_logit[None, :] + _shift(base_logit, calibration, inner)[:, None])
    income = np.asarray(population.income_ratio_by_quintile.values)
    eta = population.inequality_aversion.distribution.mean()
    # Weights relative to the population's mean weight: a benefit spread evenly per head is
    # weighted 1 (unnormalised, the convexity of (median / income) ** eta would add about a fifth
    # to any benefit, whoever gets it)
    quintile_weight = income**-eta if eta > 0.0 else np.ones(n_q)
    quintile_weight = quintile_weight / np.dot(np.asarray(population.quintile_share.values), quintile_weight)
    quintile_contacts = np.bincount(quintile, weights=weight, minlength=n_q)
    uplift = float(np.sum((quintile_weight - 1.0) * quintile_contacts))
    return Segments(
        age_bands=tuple(population.age_bands),
        quintiles=tuple(population.quintiles),
        population_share=share,
        contacts_per_person=contacts,
        contact_weight=weight,
        age=age,
        quintile=quintile,
        exclusion_table=table,
        quintile_weight=quintile_weight,
        distributional_uplift=np.array([uplift, *(quintile_weight - 1.0)]),
        people=float(population.people.distribution.mean()),
    )


def exclusion_by_segment(segments: Segments, headline: np.ndarray) -> np.ndarray:
    """Digital exclusion by segment for headline values, shape (segment, draws), as the kernel computes it.

    Examples
    --------
    >>> segments = build_segments(None)
    >>> exclusion_by_segment(segments, np.array([0.1, 0.3])).tolist()
    [[0.1, 0.3]]
    """
    x = np.asarray(headline, dtype=float)
    if not segments.segmented:
        return x[None, :].copy()
    position = x * (GRID - 1)
    k = np.minimum(position.astype(np.int64), GRID - 2)
    fraction = position - k
    low, high = segments.exclusion_table[k], segments.exclusion_table[k + 1]
    return (low + (high - low) * fraction[:, None]).T
