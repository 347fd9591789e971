"""Update a run's forecast with delivery evidence: Bayesian reweighting of its draws.

Each draw of a run is a joint sample of the inputs and the outputs from the
prior (the scenario). Observed delivery (spend outturn, uptake, coverage) is
stated as a likelihood on an output; :func:`update` gives each draw the
importance weight ``w_i ∝ prior weight_i × L(observations | draw i)``,
normalised to sum to 1, so that weighted statistics estimate the posterior
(Smith & Gelfand, "Bayesian statistics without tears", The American
Statistician 46(2), 1992: sampling-importance-resampling from the prior).

The weights are kept as the coordinate ``weight`` on ``draw``, so they travel
with every variable taken from the Dataset. Functions that do not yet use
weights refuse weighted results rather than silently report the prior.

Degeneracy. Importance weights from the prior collapse when the observations
are sharp or surprising. :func:`update` reports Kish's effective sample size
``ESS = 1 / sum(w_i**2)`` and refuses (``ValueError``) when it falls below
``min_effective_share`` of the draws (default 10%). It refuses rather than
re-simulating from a refitted proposal: a refitted proposal needs the prior
density of every input at every draw to correct for, and a second run; the
honest answer with too few effective draws is more draws (or a looser
observation), which the message says.
"""

from __future__ import annotations

import importlib.resources
import json
import math
import numbers
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import scipy.special
import xarray as xr

from nhsrisk._validate import WEIGHT, _message
from nhsrisk.stats import effective_sample_size, summary

__all__ = ["OBSERVATION_SETS", "WEIGHT", "Observation", "load_observations", "observation_effects", "update"]

#: Observation sets shipped with nhsrisk (``nhsrisk/data/observations/<name>.toml``), by name.
OBSERVATION_SETS: dict[str, str] = {
    "2025-26": "What 2025/26 delivered: spend (no in-year cut reported) and staff-technology uptake "
    "(GPs' AI scribes), each with its derivation and source",
}

#: Default smallest effective sample size :func:`update` accepts, as a share of the draws.
MIN_EFFECTIVE_SHARE = 0.1


def _number(value: Any, name: str, caller: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise TypeError(_message(name, caller, "a finite number", value))
    return float(value)


@dataclass(frozen=True)
class Observation:
    """One observed fact about an output of the run, with its uncertainty.

    Two kinds:

    * a *measurement*: ``value`` observed with normal error ``sd`` (in the
      output's units), likelihood ``N(value; model value, sd)``;
    * a *bound* (censored or interval): the true value is at least ``lower``
      and/or at most ``upper``. With ``sd`` the bounds are themselves measured
      with normal error, likelihood ``Phi((upper - x) / sd) - Phi((lower - x) / sd)``;
      without it they are hard: draws outside get weight 0.

    Parameters
    ----------
    output : str
        Name of a variable of the results with a ``draw`` dimension (``"uptake"``,
        ``"spend"``, ``"cumulative_value"``...). Its units are the model's: spend
        and value in GBP at the scenario's price base, uptake as a share.
    where : mapping of str to str, optional
        Labels that select one slice, such as ``{"year": "2025/26",
        "programme": "it_modernisation"}``. Dimensions not selected (other
        than ``draw``) are summed: ``{"year": "2025/26"}`` on ``spend`` is the
        year's spend over every programme.
    value, sd : float, optional
        A measurement and its standard deviation (``sd > 0``).
    lower, upper : float, optional
        Bounds on the true value (``lower < upper`` when both are given).
    source : str, optional
        Where the figure comes from (publication, date); recorded in the results.

    Examples
    --------
    >>> where = {"year": "2025/26", "programme": "it_modernisation"}
    >>> seen = Observation("uptake", where, value=0.55, sd=0.05)
    >>> seen.as_record()["where"]
    {'year': '2025/26', 'programme': 'it_modernisation'}
    """

    output: str
    where: Mapping[str, str] = field(default_factory=dict)
    value: float | None = None
    sd: float | None = None
    lower: float | None = None
    upper: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        caller = "Observation"
        if not isinstance(self.output, str) or not self.output:
            allowed = "the name of an output (a non-empty str)"
            raise TypeError(_message("output", caller, allowed, self.output))
        if not isinstance(self.where, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.where.items()
        ):
            allowed = "a mapping of dimension names to labels (str)"
            raise TypeError(_message("where", caller, allowed, self.where))
        object.__setattr__(self, "where", dict(self.where))
        if not isinstance(self.source, str):
            raise TypeError(_message("source", caller, "a str", self.source))
        for name in ("value", "sd", "lower", "upper"):
            given = getattr(self, name)
            if given is not None:
                object.__setattr__(self, name, _number(given, name, caller))
        if self.sd is not None and self.sd <= 0.0:
            raise ValueError(_message("sd", caller, "> 0 (a standard deviation)", self.sd))
        bounded = self.lower is not None or self.upper is not None
        if self.value is not None:
            if bounded:
                allowed = "given without lower or upper (a measurement or a bound)"
                raise ValueError(_message("value", caller, allowed, self.value))
            if self.sd is None:
                allowed = "given with value (a measurement needs its error)"
                raise ValueError(_message("sd", caller, allowed, None))
        elif not bounded:
            raise ValueError(_message("value", caller, "given, or lower and/or upper", None))
        if self.lower is not None and self.upper is not None and not self.lower < self.upper:
            raise ValueError(_message("upper", caller, f"greater than lower ({self.lower})", self.upper))

    @classmethod
    def from_mapping(cls, entry: Mapping[str, Any]) -> Observation:
        """Build an observation from a TOML table or dict with the constructor's keys."""
        if not isinstance(entry, Mapping):
            raise TypeError(_message("entry", "Observation.from_mapping", "a mapping (a TOML table)", entry))
        allowed = {item.name for item in fields(cls)}
        unknown = sorted(set(entry) - allowed)
        if unknown:
            keys = f"a table with keys among {sorted(allowed)}"
            raise ValueError(_message("entry", "Observation.from_mapping", keys, unknown))
        return cls(**dict(entry))

    def as_record(self) -> dict[str, Any]:
        """Return the observation as a plain dict (JSON-ready), as recorded in updated results."""
        return asdict(self)

    def log_likelihood(self, modelled: np.ndarray) -> np.ndarray:
        """Log-likelihood of this observation at each modelled value (constants dropped)."""
        x = np.asarray(modelled, dtype=float)
        if self.value is not None and self.sd is not None:
            return -0.5 * ((x - self.value) / self.sd) ** 2
        lower = -np.inf if self.lower is None else self.lower
        upper = np.inf if self.upper is None else self.upper
        if self.sd is None:
            with np.errstate(divide="ignore"):
                return np.log(((x >= lower) & (x <= upper)).astype(float))
        # log(Phi(b) - Phi(a)), from whichever tail keeps it accurate: Phi(b) - Phi(a) equals
        # Phi(-a) - Phi(-b), used where the whole interval lies above the modelled value (a > 0)
        a, b = (lower - x) / self.sd, (upper - x) / self.sd
        log_ndtr = scipy.special.log_ndtr
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            low_side = log_ndtr(b) + np.log1p(-np.exp(log_ndtr(a) - log_ndtr(b)))
            high_side = log_ndtr(-a) + np.log1p(-np.exp(log_ndtr(-b) - log_ndtr(-a)))
            return np.asarray(np.where(a > 0.0, high_side, low_side), dtype=float)


def load_observations(path: str | Path) -> list[Observation]:
    """Read observations from a TOML file: one ``[[observations]]`` table each.

    Parameters
    ----------
    path : str or pathlib.Path
        A TOML file, or the name of a set shipped with nhsrisk (a key of
        :data:`OBSERVATION_SETS`, such as ``"2025-26"``: what 2025/26 delivered,
        each observation with its derivation and source).

    Returns
    -------
    list of Observation

    Examples
    --------
    >>> [o.output for o in load_observations("2025-26")]
    ['spend', 'uptake']

    >>> import tempfile, pathlib
    >>> text = '''
    ... [[observations]]
    ... output = "spend"
    ... where = { year = "2025/26" }
    ... value = 0.9e9
    ... sd = 0.05e9
    ... source = "DHSC annual report 2025/26 (illustrative)"
    ... '''
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     file = pathlib.Path(folder) / "observed.toml"
    ...     _ = file.write_text(text)
    ...     [o.output for o in load_observations(file)]
    ['spend']
    """
    if isinstance(path, str) and path in OBSERVATION_SETS and not Path(path).exists():
        resource = importlib.resources.files("nhsrisk") / "data" / "observations" / f"{path}.toml"
        data = tomllib.loads(resource.read_text(encoding="utf-8"))
    else:
        with open(path, "rb") as stream:
            data = tomllib.load(stream)
    entries = data.get("observations")
    if not isinstance(entries, list) or not entries:
        allowed = "a TOML file with at least one [[observations]] table"
        raise ValueError(_message("path", "load_observations", allowed, str(path)))
    return [Observation.from_mapping(entry) for entry in entries]


def _modelled(ds: xr.Dataset, observation: Observation, caller: str) -> np.ndarray:
    """Return the model's value of an observation in every draw: the slice selected, other dims summed."""
    name = observation.output
    if name not in ds.data_vars:
        allowed = f"outputs of the results {sorted(map(str, ds.data_vars))}"
        raise ValueError(_message("observations", caller, allowed, name))
    da = ds[name]
    if "draw" not in da.dims:
        raise ValueError(_message("observations", caller, "outputs with a 'draw' dimension", name))
    for dim, label in observation.where.items():
        if dim not in da.dims:
            raise ValueError(
                _message("observations", caller, f"a 'where' on dimensions of {name!r} {list(da.dims)}", dim)
            )
        labels = [str(v) for v in da[dim].values]
        if label not in labels:
            raise ValueError(_message("observations", caller, f"a {dim!r} among {labels}", label))
        da = da.isel({dim: labels.index(label)}, drop=True)
    other = [d for d in da.dims if d != "draw"]
    values = np.asarray(da.transpose(*other, "draw").values, dtype=float)
    return values.reshape(-1, values.shape[-1]).sum(axis=0) if other else values


def update(
    ds: xr.Dataset,
    observations: Observation | Iterable[Observation],
    *,
    min_effective_share: float = MIN_EFFECTIVE_SHARE,
) -> xr.Dataset:
    """Reweight a run's draws by observed delivery: the posterior as importance weights.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`nhsrisk.simulate` (random or Latin hypercube
        sampling: each draw an independent sample of the prior), possibly
        updated before: its weights are the prior's then.
    observations : Observation or iterable of Observation
        What was observed (see :class:`Observation`; :func:`load_observations`
        reads them from TOML).
    min_effective_share : float, default 0.1
        Smallest effective sample size accepted, as a share of the draws.

    Returns
    -------
    xarray.Dataset
        A copy of ``ds`` with the coordinate ``weight`` (draw; normalised, sums
        to 1) and the attributes ``observations`` (JSON list of every
        observation applied so far) and ``effective_sample_size``.

    Raises
    ------
    TypeError, ValueError
        Bad arguments, an output or label that is not in the results, no draw
        consistent with the observations, or an effective sample size below
        ``min_effective_share`` of the draws (the message gives it and what to do).

    Examples
    --------
    >>> import xarray as xr
    >>> rng = np.random.default_rng(1)
    >>> ds = xr.Dataset({"uptake": ("draw", rng.uniform(0, 1, 20_000))})
    >>> posterior = update(ds, Observation("uptake", value=0.3, sd=0.1))
    >>> # prior mean 0.5; the posterior, N(0.3, 0.1) cut to [0, 1], has mean 0.3005
    >>> round(float((posterior.weight * posterior.uptake).sum()), 2)
    0.3
    >>> posterior.attrs["effective_sample_size"] > 2_000
    True
    """
    caller = "update"
    if not isinstance(ds, xr.Dataset):
        raise TypeError(_message("ds", caller, "an xarray.Dataset of results", type(ds).__name__))
    if "draw" not in ds.dims or ds.sizes["draw"] < 2:
        raise ValueError(_message("ds", caller, "results with at least 2 draws", dict(ds.sizes)))
    items = [observations] if isinstance(observations, Observation) else list(observations)
    if not items or not all(isinstance(o, Observation) for o in items):
        allowed = "an Observation or a non-empty list of them"
        raise TypeError(_message("observations", caller, allowed, observations))
    if (
        isinstance(min_effective_share, bool)
        or not isinstance(min_effective_share, numbers.Real)
        or not 0.0 <= float(min_effective_share) <= 1.0
    ):
        raise ValueError(_message("min_effective_share", caller, "a number in [0, 1]", min_effective_share))
    if ds.attrs.get("sampler") == "sobol":
        allowed = "random or Latin hypercube draws (Sobol' points are not a sample to weight)"
        raise ValueError(_message("ds", caller, allowed, "sobol"))
    n = ds.sizes["draw"]
    if WEIGHT in ds.coords:
        prior = np.asarray(ds.coords[WEIGHT].values, dtype=float)
        with np.errstate(divide="ignore"):
            log_weight = np.log(prior)
    else:
        log_weight = np.zeros(n)
    for observation in items:
        log_weight = log_weight + observation.log_likelihood(_modelled(ds, observation, caller))
    top = float(np.max(log_weight))
    if not math.isfinite(top):
        raise ValueError(
            f"{caller}: no draw of the {n:,} is consistent with the observations (every likelihood is 0); "
            "check their units (the model's: GBP at the scenario's price base, shares as fractions) "
            "and bounds."
        )
    weight = np.exp(log_weight - top)
    weight /= weight.sum()
    ess = effective_sample_size(weight)
    if ess < float(min_effective_share) * n:
        raise ValueError(
            f"{caller}: the observations leave an effective sample size of {ess:,.1f} of {n:,} draws "
            f"({ess / n:.2%}), below min_effective_share={float(min_effective_share):g}: the weighted "
            "figures would rest on a handful of draws. Simulate more draws (the effective sample grows "
            "in proportion), or check that the observations' values, units and standard deviations are right."
        )
    records = json.loads(ds.attrs.get("observations", "[]")) + [o.as_record() for o in items]
    out = ds.assign_coords(
        {
            WEIGHT: xr.Variable(
                "draw",
                weight,
                {"long_name": "Importance weight of the draw given the observations (sum 1)", "units": "1"},
            )
        }
    )
    out.attrs = {**ds.attrs, "observations": json.dumps(records), "effective_sample_size": ess}
    return out


def _case_label(observation: Observation) -> str:
    where = ", ".join(observation.where.values())
    return f"{observation.output} {where}".strip() if where else observation.output


def observation_effects(
    ds: xr.Dataset,
    observations: Observation | Iterable[Observation],
    *,
    min_effective_share: float = MIN_EFFECTIVE_SHARE,
) -> xr.Dataset:
    """Measure what each observation does to the headline: before, each alone, and all together.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`nhsrisk.simulate` with the headline outputs
        (``cumulative_value``, ``npv``, ``bcr``), not yet updated.
    observations : Observation or iterable of Observation
        As for :func:`update`.
    min_effective_share : float, default 0.1
        As for :func:`update`; every case must pass it.

    Returns
    -------
    xarray.Dataset
        Over the dimension ``case`` (``"before"``, then one case per
        observation labelled by its output and ``where`` labels, then
        ``"all together"`` when there are several), from the weighted
        :func:`nhsrisk.summary` of each: ``effective_sample_size`` (draws);
        ``p_target`` (P(cumulative value by the target year >= the claim))
        with ``p_target_mcse`` and ``p_target_upper_95`` (one-sided 95%
        bound, useful when it is 0); ``claim_value_median`` (GBP) with its 95%
        interval ``claim_value_median_low``/``_high``; ``bcr_median`` with
        ``bcr_median_low``/``_high``; ``p_bcr_below_1`` with
        ``p_bcr_below_1_mcse``; ``npv_mean`` (GBP) with ``npv_mean_mcse``.
        Attributes ``target`` (GBP) and ``target_year``.

    Examples
    --------
    >>> import nhsrisk
    >>> ds = nhsrisk.simulate(draws=4_000, seed=2)
    >>> effects = observation_effects(ds, load_observations("2025-26"))
    >>> [str(case) for case in effects.case.values]
    ['before', 'spend 2025/26', 'uptake 2025/26, staff_technology', 'all together']
    >>> bool(effects.bcr_median.sel(case="all together") > effects.bcr_median.sel(case="before"))
    True
    """
    caller = "observation_effects"
    if isinstance(ds, xr.Dataset) and WEIGHT in ds.coords:
        allowed = "results not yet updated (the effects are measured from the prior)"
        raise ValueError(_message("ds", caller, allowed, "results with a 'weight' coordinate"))
    items = [observations] if isinstance(observations, Observation) else list(observations)
    cases: list[tuple[str, xr.Dataset]] = [("before", ds)]
    cases += [(_case_label(o), update(ds, o, min_effective_share=min_effective_share)) for o in items]
    if len(items) > 1:
        cases.append(("all together", update(ds, items, min_effective_share=min_effective_share)))
    labels = [label for label, _ in cases]
    if len(set(labels)) != len(labels):  # two observations of the same slice: number them
        labels = [labels[0], *(f"{i}: {label}" for i, label in enumerate(labels[1:], 1))]
    columns: dict[str, list[float]] = {}
    target = target_year = None
    for _, case in cases:
        table = summary(case)
        claim = next(str(o) for o in table.output.values if str(o).startswith("cumulative_value["))
        target, target_year = float(table.target), str(table.attrs["target_year"])
        median = {"quantile": 0.5}
        row = {
            "effective_sample_size": float(case.attrs.get("effective_sample_size", case.sizes["draw"])),
            "p_target": float(table.p_target),
            "p_target_mcse": float(table.p_target_mcse),
            "p_target_upper_95": float(table.p_target_upper_95),
            "claim_value_median": float(table.quantile_estimate.sel(output=claim, **median)),
            "claim_value_median_low": float(table.quantile_low.sel(output=claim, **median)),
            "claim_value_median_high": float(table.quantile_high.sel(output=claim, **median)),
            "bcr_median": float(table.quantile_estimate.sel(output="bcr", **median)),
            "bcr_median_low": float(table.quantile_low.sel(output="bcr", **median)),
            "bcr_median_high": float(table.quantile_high.sel(output="bcr", **median)),
            "p_bcr_below_1": float(table.p_bcr_below_1),
            "p_bcr_below_1_mcse": float(table.p_bcr_below_1_mcse),
            "npv_mean": float(table["mean"].sel(output="npv")),
            "npv_mean_mcse": float(table.mcse.sel(output="npv")),
        }
        for key, value in row.items():
            columns.setdefault(key, []).append(value)
    units = {"claim_value": "GBP", "npv": "GBP", "effective": "draws"}
    return xr.Dataset(
        {
            key: ("case", values, {"units": next((u for k, u in units.items() if key.startswith(k)), "1")})
            for key, values in columns.items()
        },
        coords={"case": labels},
        attrs={"target": target, "target_year": target_year, "n_draws": int(ds.sizes["draw"])},
    )
