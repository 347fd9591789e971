"""The ``nhsrisk`` accessor on results: ``ds.nhsrisk.summary()`` and friends.

Importing :mod:`nhsrisk` registers it on :class:`xarray.Dataset` and
:class:`xarray.DataArray`. Each method is a one-line call of the function of
the same name in :mod:`nhsrisk.stats`, which documents the statistics.

Updated results (:func:`nhsrisk.update`) carry importance weights (the
``weight`` coordinate on ``draw``), and each method passes them on to its
function, which uses them or refuses them saying why.

Examples
--------
>>> import nhsrisk
>>> import nhsrisk.accessor
>>> ds = nhsrisk.simulate(draws=1_000, seed=1)
>>> ds.nhsrisk.summary()["output"].values.tolist()[:4]  # the claim test, then the appraisal
['cumulative_value[2029/30]', 'shortfall[2029/30]', 'npv', 'bcr']
>>> ds["npv"].nhsrisk.describe()["mean"].units
'GBP'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import xarray as xr

if TYPE_CHECKING:
    import pandas as pd

from nhsrisk import stats
from nhsrisk.simulation import with_outputs

__all__ = ["NhsriskDataArrayAccessor", "NhsriskDatasetAccessor"]

_Accessor = TypeVar("_Accessor", bound=type)


def _register(
    register: Callable[[str], Callable[[_Accessor], _Accessor]], owner: type, accessor: _Accessor
) -> _Accessor:
    # pytest may import this module a second time under another name (doctests,
    # --import-mode=importlib); registering again would raise xarray's
    # AccessorRegistrationWarning, so an accessor of ours already in place is kept.
    existing = getattr(owner, "nhsrisk", None)
    if isinstance(existing, type) and (existing.__module__, existing.__qualname__) == (
        accessor.__module__,
        accessor.__qualname__,
    ):
        return accessor
    return register("nhsrisk")(accessor)


class NhsriskDatasetAccessor:
    """Statistics of a results Dataset from :func:`nhsrisk.simulate`, as ``ds.nhsrisk``.

    Parameters
    ----------
    ds : xarray.Dataset
        The results.
    """

    __slots__ = ("_ds",)

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    @property
    def plot(self) -> Any:
        """Plots of this Dataset: ``ds.nhsrisk.plot.fan()`` and the rest of :mod:`nhsrisk.plot`.

        Returns
        -------
        nhsrisk.plot.PlotAccessor
            One method per plotting function, each drawing this Dataset.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import nhsrisk
        >>> ax = nhsrisk.simulate(draws=2_000, seed=1).nhsrisk.plot.fan()
        >>> "GBP bn" in ax.get_ylabel()
        True
        """
        from nhsrisk.plot import PlotAccessor

        return PlotAccessor(self._ds)

    def with_outputs(self, outputs: Sequence[str]) -> xr.Dataset:
        """Call :func:`nhsrisk.simulation.with_outputs` on this Dataset: outputs the run did not keep.

        Parameters
        ----------
        outputs : sequence of str
            Output names, such as ``["hours_released"]``.

        Returns
        -------
        xarray.Dataset
            This Dataset with the outputs added, recomputed for its own draws bit for bit.

        Examples
        --------
        >>> import nhsrisk
        >>> ds = nhsrisk.simulate(draws=1_000, seed=1).nhsrisk.with_outputs(["net_benefit"])
        >>> ds["net_benefit"].dims
        ('year', 'programme', 'draw')
        """
        return with_outputs(self._ds, outputs)

    def summary(
        self,
        *,
        quantiles: Sequence[float] = (0.05, 0.5, 0.95),
        confidence: float = 0.95,
        tail: float = 0.05,
        target: float | None = None,
    ) -> stats.SummaryDataset:
        """Call :func:`nhsrisk.stats.summary` on this Dataset.

        Parameters
        ----------
        quantiles, confidence, tail, target
            As in :func:`nhsrisk.stats.summary` (``target`` in GBP).

        Returns
        -------
        nhsrisk.stats.SummaryDataset
            Headline figures with their Monte Carlo errors; prints as a table.

        Examples
        --------
        >>> import nhsrisk
        >>> import nhsrisk.accessor
        >>> result = nhsrisk.simulate(draws=1_000, seed=1).nhsrisk.summary(target=1e9)
        >>> float(result["target"])
        1000000000.0
        """
        return stats.summary(self._ds, quantiles=quantiles, confidence=confidence, tail=tail, target=target)

    def describe(
        self,
        variable: str,
        *,
        quantiles: Sequence[float] = (0.05, 0.5, 0.95),
        confidence: float = 0.95,
        tail: float = 0.05,
    ) -> xr.Dataset:
        """Call :func:`nhsrisk.stats.describe` on ``self[variable]``.

        Parameters
        ----------
        variable : str
            A variable with a ``draw`` dimension (an output or a sampled input).
        quantiles, confidence, tail
            As in :func:`nhsrisk.stats.describe`.

        Returns
        -------
        xarray.Dataset
            Statistics in the units of the variable, its other dimensions kept.

        Examples
        --------
        >>> import nhsrisk
        >>> import nhsrisk.accessor
        >>> result = nhsrisk.simulate(draws=1_000, seed=1).nhsrisk.describe("value")
        >>> dict(result["mean"].sizes), result["mean"].units
        ({'year': 10, 'programme': 3}, 'GBP/year')
        """
        # the weights, if any, travel with the variable and describe uses them
        da = stats._variable(self._ds, variable, "ds.nhsrisk.describe", weighted=True)
        return stats.describe(da, quantiles=quantiles, confidence=confidence, tail=tail)

    def to_dataframe(self) -> pd.DataFrame:
        """Call :func:`nhsrisk.stats.draws_table` on this Dataset: per-draw headline outputs.

        Returns
        -------
        pandas.DataFrame
            One row per draw; the cumulative value by the target year, NPV,
            benefit-cost ratio and present values, units in ``.attrs["units"]``;
            for updated results also each draw's ``weight``.

        Examples
        --------
        >>> import nhsrisk
        >>> import nhsrisk.accessor
        >>> nhsrisk.simulate(draws=1_000, seed=1).nhsrisk.to_dataframe().index.size
        1000
        """
        return stats.draws_table(self._ds)

    def payback(self) -> xr.Dataset:
        """Call :func:`nhsrisk.stats.payback` on this Dataset.

        Returns
        -------
        xarray.Dataset
            Probability of payback (first crossing of cumulative value over
            cumulative cost) by each year, and the payback-year distribution
            (weighted for updated results).

        Examples
        --------
        >>> import nhsrisk
        >>> import nhsrisk.accessor
        >>> result = nhsrisk.simulate(draws=1_000, seed=1).nhsrisk.payback()
        >>> float(result["payback_year_probability"].sum())
        1.0
        """
        return stats.payback(self._ds)

    def rank_correlation(self, output: str = "npv", **kwargs: Any) -> xr.Dataset:
        """Call :func:`nhsrisk.sensitivity.rank_correlation` on this Dataset.

        Parameters
        ----------
        output : str, default="npv"
            Output variable (a per-year one is read in the target year).
        **kwargs
            ``inputs``, ``year``, ``confidence``, as in :func:`nhsrisk.sensitivity.rank_correlation`.

        Returns
        -------
        xarray.Dataset
            Spearman correlation of every sampled input with the output, largest first.

        Examples
        --------
        >>> import nhsrisk
        >>> ds = nhsrisk.simulate(draws=1_000, seed=1)
        >>> ds.nhsrisk.rank_correlation("npv").sizes["input"] > 10
        True
        """
        from nhsrisk.sensitivity import rank_correlation

        return rank_correlation(self._ds, output, **kwargs)

    def prcc(self, output: str = "npv", **kwargs: Any) -> xr.Dataset:
        """Call :func:`nhsrisk.sensitivity.prcc` on this Dataset.

        Parameters
        ----------
        output : str, default="npv"
            Output variable (a per-year one is read in the target year).
        **kwargs
            ``inputs``, ``year``, ``confidence``, as in :func:`nhsrisk.sensitivity.prcc`.

        Returns
        -------
        xarray.Dataset
            Partial rank correlation of every sampled input with the output, largest first.

        Examples
        --------
        >>> import nhsrisk
        >>> ds = nhsrisk.simulate(draws=1_000, seed=1)
        >>> str(ds.nhsrisk.prcc("cumulative_value")["input"][0].values)
        'programmes.it_modernisation.black_swan'
        """
        from nhsrisk.sensitivity import prcc

        return prcc(self._ds, output, **kwargs)

    def running_mean(
        self, variable: str = "npv", points: int = 100, *, confidence: float = 0.95
    ) -> xr.Dataset:
        """Call :func:`nhsrisk.stats.running_mean` on ``self[variable]``.

        Parameters
        ----------
        variable : str, default="npv"
            A variable with a ``draw`` dimension.
        points, confidence
            As in :func:`nhsrisk.stats.running_mean`.

        Returns
        -------
        xarray.Dataset
            Running ``mean``, ``mcse``, ``ci_low`` and ``ci_high`` along
            ``n_draws`` (the weighted running mean for updated results).

        Examples
        --------
        >>> import nhsrisk
        >>> import nhsrisk.accessor
        >>> trace = nhsrisk.simulate(draws=1_000, seed=1).nhsrisk.running_mean("bcr", points=10)
        >>> trace["n_draws"].values.tolist()
        [2, 4, 8, 16, 32, 63, 126, 251, 501, 1000]
        """
        return stats.running_mean(self._ds, variable, points, confidence=confidence)

    def draws_needed(
        self,
        precision: float,
        *,
        variable: str = "npv",
        statistic: Literal["mean", "probability"] = "mean",
        threshold: float | None = None,
        confidence: float | None = None,
    ) -> int:
        """Call :func:`nhsrisk.stats.draws_needed` with ``self[variable]`` as the pilot run.

        Parameters
        ----------
        precision : float
            Target standard error, in the units of the variable (GBP for
            ``npv``) or as a probability for ``statistic="probability"``.
        variable : str, default="npv"
            A variable with a ``draw`` dimension.
        statistic, threshold, confidence
            As in :func:`nhsrisk.stats.draws_needed`.

        Returns
        -------
        int
            Draws needed, at least 1; for updated results, the draws to
            simulate given the weights' inefficiency (``n / n_eff``).

        Examples
        --------
        >>> import nhsrisk
        >>> import nhsrisk.accessor
        >>> ds = nhsrisk.simulate(draws=1_000, seed=1)
        >>> ds.nhsrisk.draws_needed(1e7) > 1_000  # NPV to within GBP 10m (one standard error)
        True
        """
        da = stats._variable(self._ds, variable, "ds.nhsrisk.draws_needed", weighted=True)
        return stats.draws_needed(
            da, precision, statistic=statistic, threshold=threshold, confidence=confidence
        )


class NhsriskDataArrayAccessor:
    """Statistics of one output with a ``draw`` dimension, as ``da.nhsrisk``.

    Parameters
    ----------
    da : xarray.DataArray
        The draws of one output, e.g. ``ds["npv"]``.
    """

    __slots__ = ("_da",)

    def __init__(self, da: xr.DataArray) -> None:
        self._da = da

    def describe(
        self,
        *,
        quantiles: Sequence[float] = (0.05, 0.5, 0.95),
        confidence: float = 0.95,
        tail: float = 0.05,
        dim: str = "draw",
    ) -> xr.Dataset:
        """Call :func:`nhsrisk.stats.describe` on this DataArray.

        Parameters
        ----------
        quantiles, confidence, tail, dim
            As in :func:`nhsrisk.stats.describe`.

        Returns
        -------
        xarray.Dataset
            Statistics in the units of the DataArray, its other dimensions kept.

        Examples
        --------
        >>> import nhsrisk
        >>> import nhsrisk.accessor
        >>> ds = nhsrisk.simulate(draws=1_000, seed=1)
        >>> ds["cumulative_value"].nhsrisk.describe(quantiles=[0.1, 0.9])["quantile_estimate"].dims
        ('year', 'quantile')
        """
        return stats.describe(self._da, quantiles=quantiles, confidence=confidence, tail=tail, dim=dim)

    def running_mean(self, points: int = 100, *, confidence: float = 0.95) -> xr.Dataset:
        """Call :func:`nhsrisk.stats.running_mean` on this DataArray.

        Parameters
        ----------
        points, confidence
            As in :func:`nhsrisk.stats.running_mean`.

        Returns
        -------
        xarray.Dataset
            Running ``mean``, ``mcse``, ``ci_low`` and ``ci_high`` along ``n_draws``.

        Examples
        --------
        >>> import nhsrisk
        >>> import nhsrisk.accessor
        >>> npv = nhsrisk.simulate(draws=1_000, seed=1)["npv"]
        >>> bool(npv.nhsrisk.running_mean()["mean"][-1] == npv.nhsrisk.describe()["mean"])
        True
        """
        return stats.running_mean(self._da, points=points, confidence=confidence)

    def draws_needed(
        self,
        precision: float,
        *,
        statistic: Literal["mean", "probability"] = "mean",
        threshold: float | None = None,
        confidence: float | None = None,
    ) -> int:
        """Call :func:`nhsrisk.stats.draws_needed` with this DataArray as the pilot run.

        Parameters
        ----------
        precision, statistic, threshold, confidence
            As in :func:`nhsrisk.stats.draws_needed`.

        Returns
        -------
        int
            Draws needed, at least 1.

        Examples
        --------
        >>> import nhsrisk
        >>> import nhsrisk.accessor
        >>> bcr = nhsrisk.simulate(draws=1_000, seed=1)["bcr"]
        >>> bcr.nhsrisk.draws_needed(0.001) > 1_000  # BCR to within 0.001 (one standard error)
        True
        """
        return stats.draws_needed(
            self._da, precision, statistic=statistic, threshold=threshold, confidence=confidence
        )


# xarray's registration returns the class it registers, so the names need no rebinding
_register(xr.register_dataset_accessor, xr.Dataset, NhsriskDatasetAccessor)
_register(xr.register_dataarray_accessor, xr.DataArray, NhsriskDataArrayAccessor)
