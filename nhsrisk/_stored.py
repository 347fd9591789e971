"""Reading what is stored with results, without decoding any variable: one module for io and scenario.

:mod:`nhsrisk.io` writes and reopens results; :mod:`nhsrisk.scenario` rebuilds
the scenario stored in them (``load_scenario("run.nc")``). Both read the
global attributes of a netCDF file or a zarr store, refuse an incomplete write
and check the stored scenario against its ``scenario_sha256`` through this
module, which imports neither.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nhsrisk._errors import ScenarioError
from nhsrisk._optional import require
from nhsrisk._validate import _message

__all__ = [
    "CHUNKS_ATTRIBUTE",
    "COMPLETE_ATTRIBUTE",
    "PARTIAL_SUFFIX",
    "VARIABLE_ORDER_ATTRIBUTE",
    "results_attributes",
    "stored_scenario_text",
    "verify_scenario_checksum",
]

#: Root attribute of a zarr store: 1 once every array is written, 0 while it is being written.
COMPLETE_ATTRIBUTE = "nhsrisk_complete"
#: Root attribute of a zarr store: the number of chunk files of each array, all of which are written.
CHUNKS_ATTRIBUTE = "nhsrisk_chunks"
#: Global attribute of a netCDF file whose sampled inputs are packed into one variable: the
#: order of the Dataset's variables, restored when it is reopened.
VARIABLE_ORDER_ATTRIBUTE = "nhsrisk_variable_order"
#: Attributes that describe the store rather than the results: not part of the reopened Dataset.
_STORE_ATTRIBUTES = (COMPLETE_ATTRIBUTE, CHUNKS_ATTRIBUTE, VARIABLE_ORDER_ATTRIBUTE)
#: Suffix of anything still being written; never a complete result.
PARTIAL_SUFFIX = ".partial"
_ZARR_MARKERS = (".zgroup", "zarr.json")
_KIND_NAMES = {"netcdf": "a netCDF4 results file", "zarr": "a zarr results store"}


def results_attributes(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the global attributes of saved results without decoding any variable.

    Parameters
    ----------
    path : str or path-like
        A netCDF4 file or a complete zarr store written by :func:`nhsrisk.save_results`.

    Returns
    -------
    dict
        The Dataset's attributes (``scenario``, ``scenario_sha256``, ``seed``,
        ...), without the zarr completeness marker. The scenario checksum is not
        checked here (see :func:`nhsrisk.scenario.scenario_from_attrs`).

    Raises
    ------
    FileNotFoundError
        If nothing exists at ``path``.
    ValueError
        If ``path`` is an incomplete write or cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib, nhsrisk
    >>> ds = nhsrisk.simulate(draws=1_000, seed=7)[["npv"]]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     attrs = results_attributes(nhsrisk.save_results(ds, pathlib.Path(folder) / "run.zarr"))
    >>> attrs["seed"], attrs["scenario_name"]
    ('7', 'as-announced')
    """
    caller = "results_attributes"
    source = _as_path(path, caller)
    if _stored_kind(source, caller) == "zarr":
        attrs = _check_zarr_complete(source)
    else:
        import h5netcdf

        try:
            with h5netcdf.File(source, "r") as store:
                attrs = {key: _plain(value) for key, value in store.attrs.items()}
        except OSError as err:
            raise ValueError(f"{source}: cannot be read as {_KIND_NAMES['netcdf']}: {err}") from None
    _drop_store_attributes(attrs)
    return attrs


def stored_scenario_text(attrs: Mapping[str, Any], file: str | None = None) -> str:
    """Return the scenario TOML stored in results attributes, after checking it against its SHA-256.

    Raises
    ------
    ScenarioError
        If ``attrs`` hold no scenario (not nhsrisk results), one that is not
        a string, or one whose hash is not the ``scenario_sha256`` stored with it.
    """
    text = attrs.get("scenario")
    if text is None:
        raise ScenarioError("attrs.scenario", "missing: this is not an nhsrisk results file", file)
    if not isinstance(text, str):
        raise ScenarioError(
            "attrs.scenario",
            f"must be a string (the scenario's TOML text), but it is {_attribute_type(text)}: the file was "
            "altered after the run, or was not written by nhsrisk",
            file,
        )
    verify_scenario_checksum(text, attrs.get("scenario_sha256"), file)
    return text


def verify_scenario_checksum(text: str, expected: Any, file: str | None) -> None:
    """Refuse a stored scenario whose SHA-256 is not the ``scenario_sha256`` recorded with it."""
    actual = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if expected != actual:
        raise ScenarioError(
            "attrs.scenario",
            f"does not match its checksum (scenario_sha256={expected!r}, computed {actual!r}): "
            "the stored scenario was altered after the run",
            file,
        )


def _attribute_type(value: Any) -> str:
    """Describe the type of a stored attribute for an error message: ``"an array of 2 object"``."""
    if isinstance(value, np.ndarray):
        return f"an array of {value.size} {value.dtype}"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    plain = value.item() if isinstance(value, np.generic) else value
    return f"{type(value).__name__} {plain!r}"[:80]


def _as_path(path: Any, caller: str) -> Path:
    if isinstance(path, bool) or not isinstance(path, str | os.PathLike):
        raise TypeError(_message("path", caller, "a str or path-like", path))
    if not str(os.fspath(path)):
        raise ValueError(_message("path", caller, "a non-empty path", path))
    return Path(path)


def _is_zarr_store(path: Path) -> bool:
    return path.is_dir() and any((path / marker).is_file() for marker in _ZARR_MARKERS)


def _partial_path(target: Path) -> Path:
    return target.with_name(target.name + PARTIAL_SUFFIX)


def _stored_kind(source: Path, caller: str) -> str:
    """Return "zarr" or "netcdf" for existing results at ``source``; refuse incomplete writes."""
    if source.name.endswith(PARTIAL_SUFFIX):
        raise ValueError(
            f"{source}: incomplete results (an interrupted or unfinished write, marked by the "
            f"{PARTIAL_SUFFIX!r} suffix); {caller} refuses to read it."
        )
    if not source.exists():
        partial = _partial_path(source)
        if partial.exists():
            raise FileNotFoundError(
                f"{source}: no results here; {partial} holds an incomplete (interrupted) write of them."
            )
        raise FileNotFoundError(f"{source}: no such results file or store.")
    if source.is_dir():
        if not _is_zarr_store(source):
            raise ValueError(
                f"{source}: a directory but not a zarr store; {caller} reads .nc files and .zarr stores."
            )
        return "zarr"
    return "netcdf"


def _check_zarr_complete(source: Path) -> dict[str, Any]:
    """Return the root attributes of a zarr store, refusing one not marked complete."""
    zarr = require("zarr", "reading a zarr store")

    try:
        # The root's own attributes, not the consolidated copy that is written last.
        group = zarr.open_group(source, mode="r", use_consolidated=False)
        attrs = dict(group.attrs)
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{source}: cannot be read as {_KIND_NAMES['zarr']}: {err}") from None
    marker = attrs.get(COMPLETE_ATTRIBUTE)
    if isinstance(marker, bool) or marker != 1:
        raise ValueError(
            f"{source}: incomplete results: the zarr store's {COMPLETE_ATTRIBUTE!r} attribute is "
            f"{marker!r}, not 1 (an interrupted write, or a store not written by nhsrisk.io.save_results)."
        )
    if not (source / ".zmetadata").is_file():
        # save_results consolidates the metadata after marking the store complete
        raise ValueError(
            f"{source}: incomplete results: the zarr store is marked complete but has no consolidated "
            "metadata (.zmetadata), which nhsrisk.io.save_results always writes."
        )
    return attrs


def _drop_store_attributes(attrs: dict[str, Any]) -> None:
    """Remove the attributes that describe a store (complete marker, chunk counts), not the results."""
    for name in _STORE_ATTRIBUTES:
        attrs.pop(name, None)


def _plain(value: Any) -> Any:
    """Return a netCDF attribute as the Python value xarray gives (numpy scalars and arrays unwrapped)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
