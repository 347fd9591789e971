"""Saving and reopening results: netCDF files and zarr stores that are either complete or clearly not.

:func:`save_results` writes a results Dataset (eager or dask-backed) to a
compressed netCDF4 file (``.nc``) or a chunked, compressed zarr store
(``.zarr``); :func:`open_results` reopens it lazily. Every attribute (the
scenario TOML and its sha256, the seed, the nhsrisk version ...), coordinate
and string label survives the round trip.

A write that is interrupted (Ctrl-C, a killed process or worker, a full disk)
never leaves something that reads as a complete result:

- a netCDF file is written to a hidden temporary file in the target's
  directory and renamed into place (:func:`write_atomically`);
- a zarr store is written to the sibling directory ``<path>.partial`` whose
  root attribute ``nhsrisk_complete`` is 0; only when every array is written is
  it set to 1, the number of chunk files of each array recorded in
  ``nhsrisk_chunks``, the metadata consolidated, the files synced to disk and
  the directory renamed to ``<path>``.

:func:`open_results` refuses a ``.partial`` path, a zarr store whose
``nhsrisk_complete`` is not 1 and one that has lost a chunk file since (zarr
itself would read the missing chunk as fill values, NaN), and checks the stored
scenario against its sha256 so that a scenario edited after the run is detected.

Zarr stores use the zarr format 2 specification: it covers the fixed-width
unicode labels and the consolidated metadata that format 3 does not yet
specify, and every zarr implementation reads it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import numbers
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import xarray as xr

from nhsrisk._errors import ScenarioError
from nhsrisk._optional import available, require
from nhsrisk._stored import (
    _KIND_NAMES,
    CHUNKS_ATTRIBUTE,
    COMPLETE_ATTRIBUTE,
    PARTIAL_SUFFIX,
    VARIABLE_ORDER_ATTRIBUTE,
    _as_path,
    _attribute_type,
    _check_zarr_complete,
    _drop_store_attributes,
    _is_zarr_store,
    _partial_path,
    _stored_kind,
    results_attributes,
    verify_scenario_checksum,
)
from nhsrisk._validate import _message

__all__ = [
    "open_results",
    "results_attributes",
    "save_results",
    "write_atomically",
    "write_folder_atomically",
]

#: Storage formats of :func:`save_results`.
FORMATS: tuple[str, ...] = ("netcdf", "zarr")
_SUFFIX_FORMATS = {".nc": "netcdf", ".nc4": "netcdf", ".netcdf": "netcdf", ".zarr": "zarr"}
#: Draws per chunk of an eager Dataset (a dask-backed one keeps its own chunks).
DEFAULT_DRAW_CHUNK = 2**16
# HDF5 caches 1 MiB per dataset by default and must decompress a whole chunk to read one value
# of it: a few MiB per chunk keeps partial reads cheap without making whole reads chatty.
_NETCDF_CHUNK_BYTES = 4 * 2**20
_ZARR_FORMAT: Final = 2


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def save_results(
    ds: xr.Dataset,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    overwrite: bool = False,
    compression: int = 3,
) -> Path:
    """Write a results Dataset to a netCDF4 file or a zarr store, all or nothing.

    Parameters
    ----------
    ds : xarray.Dataset
        Results, such as the output of :func:`nhsrisk.simulate`; eager or
        dask-backed. A dask-backed Dataset is computed and written chunk by
        chunk, never held in memory whole.
    path : str or path-like
        Target file (``.nc``) or store directory (``.zarr``). Its parent
        directory must exist and be writable.
    format : {"netcdf", "zarr"}, optional
        Storage format; inferred from the suffix of ``path`` (``.nc``,
        ``.nc4``, ``.netcdf`` or ``.zarr``) when None.
    overwrite : bool, default=False
        Replace an existing file or zarr store at ``path``. The old one is
        removed only after the new one is in place, so a failed write leaves it
        untouched. What a killed earlier write of the same ``path`` left is
        cleared: ``<path>.partial`` (zarr) or the hidden temporary files
        ``.<name>.<8 random characters>.partial`` beside it (netCDF).
    compression : int, default=3
        Compression level from 0 (none) to 9 (smallest): zlib with byte
        shuffling for netCDF, Blosc/Zstd with byte shuffling for zarr.

    Returns
    -------
    pathlib.Path
        ``path``, holding the complete results.

    Raises
    ------
    TypeError
        If ``ds`` is not a Dataset or a parameter has the wrong type.
    ValueError
        If ``format`` or ``compression`` is not allowed, the format cannot be
        inferred, or ``path`` ends in ``.partial``.
    FileNotFoundError, NotADirectoryError, PermissionError
        If the parent directory of ``path`` is missing, not a directory or not
        writable.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False (or it is a directory that is
        not a zarr store), or ``<path>.partial`` exists and ``overwrite`` is False.
    ImportError
        If ``format`` is ``"zarr"`` and zarr is not installed (it comes with
        ``pip install 'nhsrisk[scale]'``).

    Notes
    -----
    netCDF files are written by h5netcdf, chunked along ``draw`` (chunks of
    about 4 MiB; uncompressed, at ``compression=0``, they are stored whole). A
    netCDF file holds every per-draw sampled input in one variable,
    ``sampled_inputs(sampled_input, draw)``, a row an input (its name in the
    coordinate ``sampled_input``, its attributes as JSON in
    ``sampled_input_attrs``): a netCDF variable costs milliseconds to write
    whatever its size, and a run has over a hundred inputs. :func:`open_results`
    gives each input its variable back, in the original order; ``xarray.open_dataset``
    shows the packed form, a table of inputs by draw for R or pandas. Zarr stores
    follow the zarr format 2 specification, chunked
    along ``draw`` only: chunks of 65,536 draws for an eager Dataset, the
    Dataset's own chunks for a dask-backed one. Files are synced to disk before
    the rename, so after a machine crash the target is the old one or the new
    one, whole. Nothing is left behind by an error or Ctrl-C (the dask tasks
    already running are waited for, so they cannot write after the clean-up);
    a killed process leaves a temporary file or ``<path>.partial``, which
    :func:`open_results` refuses and ``overwrite=True`` clears. Two cases can
    still leave a ``.partial`` behind after an error or Ctrl-C: tasks running
    on a ``dask.distributed`` cluster, and a zarr chunk write already in
    flight in zarr's I/O thread; it is marked incomplete all the same. The
    existence checks and the final rename are not one atomic step: two
    processes must not write the same ``path`` at once.

    Examples
    --------
    >>> import tempfile, pathlib, nhsrisk
    >>> ds = nhsrisk.simulate(draws=1_000, seed=1)[["npv", "bcr", "cumulative_value"]]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save_results(ds, pathlib.Path(folder) / "run.zarr")
    ...     with open_results(path) as reopened:
    ...         print(path.name, reopened.attrs["seed"], reopened["npv"].identical(ds["npv"]))
    run.zarr 1 True
    """
    caller = "save_results"
    if not isinstance(ds, xr.Dataset):
        raise TypeError(_message("ds", caller, "an xarray.Dataset", type(ds).__name__))
    target = _as_path(path, caller)
    if target.name.endswith(PARTIAL_SUFFIX):
        raise ValueError(
            _message(
                "path",
                caller,
                f"a path that does not end in {PARTIAL_SUFFIX!r} (the marker of an incomplete write)",
                str(target),
            )
        )
    chosen = _resolve_format(format, target)
    if not isinstance(overwrite, bool):
        raise TypeError(_message("overwrite", caller, "True or False", overwrite))
    level = _check_compression(compression)
    _check_destination(target, overwrite, chosen)
    if chosen == "zarr":
        require("zarr", "save_results(format='zarr')")
        require("numcodecs", "save_results(format='zarr')")
    prepared = _without_encoding(ds)
    _drop_store_attributes(prepared.attrs)
    if chosen == "netcdf":
        prepared = _pack_sampled_inputs(prepared)
        encoding = _netcdf_encoding(prepared, level)
        if overwrite:
            _clear_stale_temporaries(target)

        def write_netcdf(temporary: Path) -> None:
            with _tasks_finished_on_exit(prepared):
                prepared.to_netcdf(temporary, engine="h5netcdf", encoding=encoding)

        write_atomically(target, write_netcdf, overwrite=overwrite)
    else:
        _write_zarr(prepared, target, level, overwrite)
    return target


def open_results(path: str | os.PathLike[str], *, chunks: dict[Any, Any] | str | None = "auto") -> xr.Dataset:
    """Reopen results written by :func:`save_results`, lazily, refusing incomplete ones.

    Parameters
    ----------
    path : str or path-like
        A netCDF4 file or a zarr store directory.
    chunks : dict or "auto" or None, default="auto"
        Dask chunks, as in :func:`xarray.open_dataset`: ``"auto"`` follows
        the stored chunks, a dict maps dimension names to chunk sizes, and None
        returns lazily indexed (not dask) arrays. No data is read until it is used.
        Without dask (a core install, no ``nhsrisk[scale]``) ``"auto"`` gives
        lazily indexed arrays too, and a dict raises an ImportError.

    Returns
    -------
    xarray.Dataset
        The results, with every attribute of the Dataset that was saved. It
        keeps the file open: close it (or use it in a ``with`` block) when done.

    Raises
    ------
    FileNotFoundError
        If nothing exists at ``path`` (the message says whether an
        interrupted write left ``<path>.partial``).
    ValueError
        If ``path`` is an incomplete write (a ``.partial`` path, a zarr store
        whose ``nhsrisk_complete`` attribute is not 1, or one missing a chunk
        file that ``nhsrisk_chunks`` says was written), cannot be read as
        netCDF4 or zarr, or ``chunks`` is not allowed.
    ScenarioError
        If the stored scenario does not match its ``scenario_sha256`` (it was
        edited after the run). A ``ValueError``.
    TypeError
        If ``path`` or ``chunks`` has the wrong type.
    ImportError
        If ``path`` is a zarr store and zarr is not installed, or ``chunks`` is
        a dict and dask is not (both come with ``pip install 'nhsrisk[scale]'``).

    Examples
    --------
    >>> import tempfile, pathlib, nhsrisk
    >>> ds = nhsrisk.simulate(draws=1_000, seed=1)[["npv", "bcr"]]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save_results(ds, pathlib.Path(folder) / "run.nc")
    ...     with open_results(path) as reopened:
    ...         print(reopened["npv"].chunks, float(reopened["npv"].mean()) == float(ds["npv"].mean()))
    ((1000,),) True
    """
    caller = "open_results"
    source = _as_path(path, caller)
    chunks = _check_chunks(chunks)
    if chunks is not None and not available("dask"):
        if chunks != "auto":
            require("dask", "open_results(chunks={...})")
        chunks = None  # the default without dask: lazily indexed arrays, read on use
    kind = _stored_kind(source, caller)
    if kind == "zarr":
        require("zarr", "open_results of a zarr store")
        _check_zarr_chunks(source, _check_zarr_complete(source))
        opener: Callable[[], xr.Dataset] = lambda: xr.open_zarr(  # noqa: E731
            source, chunks=chunks, consolidated=True
        )
    else:
        opener = lambda: xr.open_dataset(source, engine="h5netcdf", chunks=chunks)  # noqa: E731
    try:
        ds = opener()
    except (OSError, KeyError) as err:
        raise ValueError(f"{source}: cannot be read as {_KIND_NAMES[kind]}: {err}") from None
    try:
        unpacked = _unpack_sampled_inputs(ds)  # reads the stored order of the variables
        _drop_store_attributes(unpacked.attrs)
        _check_scenario_checksum(unpacked.attrs, source)
    except BaseException:
        ds.close()
        raise
    if unpacked is not ds:
        unpacked.set_close(ds.close)  # closing the unpacked Dataset closes the file
    return unpacked


#: The variable of a netCDF results file that holds every per-draw sampled input, one row an
#: input (``sampled_input``: its name; ``sampled_input_attrs``: its attributes as JSON).
PACKED_INPUTS: Final = "sampled_inputs"
_PACKED_DIM: Final = "sampled_input"
_PACKED_ATTRS: Final = "sampled_input_attrs"
_PACKED_MARK: Final = "nhsrisk_packed"


def _pack_sampled_inputs(ds: xr.Dataset) -> xr.Dataset:
    """Put every per-draw sampled input into one 2-D variable, :data:`PACKED_INPUTS`, for a netCDF file.

    A netCDF variable costs about 5 ms to write, whatever its size, and a run keeps
    over a hundred inputs: one variable instead writes ``nhsrisk run``'s results in a
    third of the time. :func:`open_results` gives each input its own variable again,
    with its attributes, in the original order.
    """
    names = [
        name
        for name, variable in ds.data_vars.items()
        if variable.attrs.get("sampled_input") == 1 and variable.dims == ("draw",)
    ]
    if len(names) < 2 or PACKED_INPUTS in ds.variables or _PACKED_DIM in ds.dims:
        return ds
    stacked: xr.Variable = xr.Variable.concat(  # type: ignore[no-untyped-call]  # xarray leaves it untyped
        [ds[name].variable for name in names], dim=_PACKED_DIM
    )
    stacked.attrs = {
        "long_name": "Sampled inputs, one row an input (nhsrisk.open_results gives each its own variable)",
        _PACKED_MARK: 1,
    }
    packed = ds.drop_vars(names)
    packed.attrs[VARIABLE_ORDER_ATTRIBUTE] = [str(name) for name in ds.data_vars]
    packed[PACKED_INPUTS] = stacked
    return packed.assign_coords(
        {
            _PACKED_DIM: (_PACKED_DIM, names, {"long_name": "Sampled input (key path)"}),
            _PACKED_ATTRS: (
                _PACKED_DIM,
                [json.dumps(ds[name].attrs, default=_json_scalar) for name in names],
                {"long_name": "Attributes of the sampled input (JSON)"},
            ),
        }
    )


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"an attribute value of type {type(value).__name__} cannot be stored")


def _unpack_sampled_inputs(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`_pack_sampled_inputs`: a variable per input, lazily (rows are read on use)."""
    if PACKED_INPUTS not in ds.data_vars or not ds[PACKED_INPUTS].attrs.get(_PACKED_MARK):
        return ds
    packed = ds[PACKED_INPUTS].variable
    names = [str(name) for name in ds[_PACKED_DIM].values]
    attrs = [json.loads(str(text)) for text in ds[_PACKED_ATTRS].values]
    inputs = {
        name: xr.Variable(("draw",), packed[row].data, attrs[row], fastpath=True)
        for row, name in enumerate(names)
    }
    rest = ds.drop_vars([PACKED_INPUTS, _PACKED_DIM, _PACKED_ATTRS])
    stored_order = rest.attrs.pop(VARIABLE_ORDER_ATTRIBUTE, None)
    # netCDF gives back a list of one name as a plain string
    order: list[str] = (
        [stored_order] if isinstance(stored_order, str) else [str(n) for n in stored_order or ()]
    )
    variables: dict[str, xr.Variable] = {str(name): rest[name].variable for name in rest.data_vars}
    variables.update(inputs)
    ordered = [name for name in order if name in variables]
    ordered += [name for name in variables if name not in ordered]
    return xr.Dataset(
        {name: variables[name] for name in ordered},
        coords={name: rest.coords[name].variable for name in rest.coords},
        attrs=rest.attrs,
    )


def write_atomically(
    path: str | os.PathLike[str], write: Callable[[Path], object], *, overwrite: bool = True
) -> Path:
    """Write a file through a temporary file in the same directory, then rename it into place.

    Readers see the old file or the complete new one, never a part: ``write``
    fills a hidden temporary file (``.<name>.<random>.partial``), which is
    synced to disk and renamed to ``path``. If ``write`` raises (or Ctrl-C
    interrupts it) the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or path-like
        Final file. Its directory must exist.
    write : callable
        Called with the temporary file's path; must write the whole file there.
    overwrite : bool, default=True
        Replace an existing file at ``path``; when False an existing ``path``
        raises ``FileExistsError`` before ``write`` is called.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = write_atomically(pathlib.Path(folder) / "note.txt", lambda p: p.write_text("done"))
    ...     print(target.read_text(), sorted(q.name for q in target.parent.iterdir()))
    done ['note.txt']
    """
    target = _check_writer(path, "write", write, overwrite, "write_atomically")
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX)
    os.close(handle)
    temporary = Path(name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        write(temporary)
        _fsync(temporary)
        _install(temporary, target, overwrite, "write_atomically")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def run_results_file(results: str | os.PathLike[str]) -> Path:
    """Return the results file of an ``nhsrisk run`` folder (its ``results.nc``), or ``results`` itself.

    Parameters
    ----------
    results : str or path-like
        An ``nhsrisk run`` output folder, or a results file (.nc, or a .zarr store).

    Returns
    -------
    pathlib.Path
        The file (or zarr store) that :func:`open_results` reads.

    Raises
    ------
    FileNotFoundError
        If ``results`` names nothing, or a folder without ``results.nc`` (the
        message says what the folder holds).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (pathlib.Path(folder) / "results.nc").write_bytes(b"")
    ...     run_results_file(folder).name
    'results.nc'
    """
    source = Path(results)
    if source.is_dir() and not _is_zarr_store(source):
        results_file = source / "results.nc"
        if not results_file.exists():
            held = sorted(entry.name for entry in source.iterdir())
            why = (
                "; summary.nc of a --summary-only run keeps no draws, which this needs"
                if "summary.nc" in held
                else ""
            )
            raise FileNotFoundError(
                f"{source} holds no results.nc, so it is not the folder of an nhsrisk run{why} "
                f"(it holds {', '.join(held[:6]) or 'nothing'})"
            )
        return results_file
    if source.exists():
        return source
    raise FileNotFoundError(f"no results at {source}: expected an nhsrisk run folder or a results file")


def write_folder_atomically(
    path: str | os.PathLike[str], fill: Callable[[Path], object], *, overwrite: bool = True
) -> Path:
    """Write a folder aside, then move it into place whole: readers see the old folder or the new one.

    ``fill`` writes every file into a hidden folder beside ``path``
    (``.<name>.<random>.partial``), which is synced to disk and renamed to
    ``path``; an old folder at ``path`` is moved aside first and removed only
    once the new one is in place. If ``fill`` raises (or Ctrl-C interrupts it)
    the hidden folder is removed and ``path`` is untouched. Hidden folders left
    by writers that were killed are removed first.

    Parameters
    ----------
    path : str or path-like
        Final folder. Its parent must exist.
    fill : callable
        Called with the hidden folder's path; must write every file there.
    overwrite : bool, default=True
        Replace an existing ``path``; when False an existing ``path`` raises
        ``FileExistsError`` before ``fill`` is called.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     fill = lambda p: (p / "a.txt").write_text("1")
    ...     run = write_folder_atomically(pathlib.Path(folder) / "run", fill)
    ...     print(sorted(q.name for q in run.iterdir()), sorted(q.name for q in run.parent.iterdir()))
    ['a.txt'] ['run']
    """
    target = _check_writer(path, "fill", fill, overwrite, "write_folder_atomically")
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[0-9a-f]{{12}}{re.escape(PARTIAL_SUFFIX)}")
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            if pattern.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
    staged = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}{PARTIAL_SUFFIX}")
    os.mkdir(staged)
    try:
        fill(staged)
        _fsync_tree(staged)
        _install(staged, target, overwrite, "write_folder_atomically")
    except BaseException:
        if os.path.lexists(staged):
            _remove(staged)
        raise
    return target


# --------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------


def _check_writer(path: Any, name: str, callback: Any, overwrite: Any, caller: str) -> Path:
    """Check the arguments of write_atomically or write_folder_atomically; return the target path."""
    target = _as_path(path, caller)
    if not callable(callback):
        raise TypeError(_message(name, caller, "a callable taking a path", callback))
    if not isinstance(overwrite, bool):
        raise TypeError(_message("overwrite", caller, "True or False", overwrite))
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(_exists_message(target, caller))
    return target


def _resolve_format(format: Any, path: Path) -> str:
    if format is None:
        inferred = _SUFFIX_FORMATS.get(path.suffix.lower())
        if inferred is None:
            raise ValueError(
                _message(
                    "format",
                    "save_results",
                    f"one of {list(FORMATS)} when the path's suffix is not "
                    f"one of {list(_SUFFIX_FORMATS)} (path {str(path)!r})",
                    format,
                )
            )
        return inferred
    if not isinstance(format, str):
        raise TypeError(_message("format", "save_results", f"one of {list(FORMATS)} or None", format))
    if format not in FORMATS:
        raise ValueError(_message("format", "save_results", f"one of {list(FORMATS)} or None", format))
    return format


def _check_compression(level: Any) -> int:
    if isinstance(level, bool | np.bool_) or not isinstance(level, numbers.Integral):
        raise TypeError(_message("compression", "save_results", "an int from 0 to 9", level))
    if not 0 <= int(level) <= 9:  # int(): typeshed's numbers.Integral supports no comparisons
        raise ValueError(_message("compression", "save_results", "an int from 0 to 9", level))
    return int(level)


def _check_chunks(chunks: Any) -> dict[Any, Any] | Literal["auto"] | None:
    allowed = "a dict of dimension sizes, 'auto' or None"
    if chunks is None or isinstance(chunks, dict):
        return chunks
    if isinstance(chunks, str):
        if chunks != "auto":
            raise ValueError(_message("chunks", "open_results", allowed, chunks))
        return "auto"
    raise TypeError(_message("chunks", "open_results", allowed, chunks))


def _exists_message(path: Path, caller: str) -> str:
    return _message("path", caller, "a path where nothing exists yet, unless overwrite=True", str(path))


def _check_destination(target: Path, overwrite: bool, chosen: str) -> None:
    """Refuse a target that cannot be written, before any work is done."""
    caller = "save_results"
    parent = target.parent
    if not parent.exists():
        raise FileNotFoundError(
            _message("path", caller, "in an existing directory (create it first)", str(target))
        )
    if not parent.is_dir():
        raise NotADirectoryError(
            _message("path", caller, f"in a directory, but {str(parent)!r} is not one", str(target))
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(
            _message(
                "path", caller, f"in a writable directory, but {str(parent)!r} is read-only", str(target)
            )
        )
    if os.path.lexists(target):
        if not overwrite:
            raise FileExistsError(_exists_message(target, caller))
        if target.is_dir() and not target.is_symlink() and not _is_zarr_store(target):
            raise FileExistsError(
                _message(
                    "path",
                    caller,
                    "a file or a zarr store to be replaced with overwrite=True, not another directory",
                    str(target),
                )
            )
    partial = _partial_path(target)
    if chosen == "zarr" and os.path.lexists(partial) and not overwrite:
        raise FileExistsError(
            _message(
                "path",
                caller,
                f"free of an interrupted earlier write, but {str(partial)!r} exists "
                "(remove it, or pass overwrite=True to clear it)",
                str(target),
            )
        )


def _check_zarr_chunks(source: Path, attrs: Mapping[str, Any]) -> None:
    """Refuse a complete zarr store that has lost a chunk file since it was written.

    zarr reads a missing chunk as fill values (NaN), without an error, so every chunk key
    the consolidated metadata implies is looked for among the files. Listing one directory
    per array keeps this cheap: about 0.2 s for 10**8 draws of 100 variables in 65,536-draw
    chunks. Stores written before ``nhsrisk_chunks`` was recorded are not checked.
    """
    recorded = attrs.get(CHUNKS_ATTRIBUTE)
    if recorded is None:
        return
    try:
        metadata = json.loads((source / ".zmetadata").read_text(encoding="utf-8"))["metadata"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{source}: cannot be read as {_KIND_NAMES['zarr']}: {err}") from None
    if not isinstance(recorded, dict):
        raise ValueError(
            f"{source}: its {CHUNKS_ATTRIBUTE!r} attribute must map array names to chunk counts, "
            f"got {recorded!r}"
        )
    for name, count in recorded.items():
        array = metadata.get(f"{name}/.zarray")
        if array is None:
            raise ValueError(
                f"{source}: incomplete results: variable {name!r}, written with the results, is missing"
            )
        expected, missing = _missing_chunks(source / name, array)
        if missing:
            keys = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise ValueError(
                f"{source}: incomplete results: variable {name!r} has lost {len(missing)} of its "
                f"{len(expected)} chunk files ({keys}): "
                "the store was damaged after it was written (an interrupted copy or sync?), and zarr "
                "would read the missing draws as NaN"
            )
        if len(expected) != count:
            raise ValueError(
                f"{source}: variable {name!r} has {len(expected)} chunks by its metadata, but {count!r} "
                "were written: the store was altered after it was written"
            )


def _missing_chunks(folder: Path, array: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Every chunk key of a zarr format 2 array (``"0.3"``) and those without a file in ``folder``."""
    shape, chunks = array["shape"], array["chunks"]
    separator = array.get("dimension_separator") or "."
    counts = [math.ceil(size / chunk) for size, chunk in zip(shape, chunks, strict=True)]
    expected = [separator.join(map(str, index)) for index in itertools.product(*map(range, counts))]
    if not shape:
        expected = ["0"]  # a scalar's one chunk
    if separator == "/":  # nested directories: look each one up
        return expected, [key for key in expected if not (folder / key).is_file()]
    try:
        with os.scandir(folder) as entries:
            present = {entry.name for entry in entries}
    except OSError:
        present = set()
    return expected, [key for key in expected if key not in present]


def _count_chunks(root: Path) -> dict[str, int]:
    """Count the chunk files of every array of a freshly written store, checking that none is missing."""
    counts = {}
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        zarray = Path(entry.path) / ".zarray"
        if not zarray.is_file():
            continue
        expected, missing = _missing_chunks(Path(entry.path), json.loads(zarray.read_text(encoding="utf-8")))
        if missing:  # write_empty_chunks=True writes every one
            raise OSError(f"{root}: zarr left chunk files of {entry.name!r} unwritten: {missing[:5]}")
        counts[entry.name] = len(expected)
    return counts


def _check_scenario_checksum(attrs: Mapping[str, Any], source: Path) -> None:
    """Refuse results whose stored scenario differs from the one the run hashed."""
    text = attrs.get("scenario")
    expected = attrs.get("scenario_sha256")
    if text is None and expected is None:
        return  # derived results that carry no scenario: nothing to verify
    if not isinstance(text, str) or not isinstance(expected, str):
        found = [
            f"{name!r} is " + ("missing" if value is None else f"{_attribute_type(value)}, of the wrong type")
            for name, value in (("scenario", text), ("scenario_sha256", expected))
            if not isinstance(value, str)
        ]
        raise ScenarioError(
            "attrs.scenario",
            "the 'scenario' and 'scenario_sha256' attributes must both be present as strings, but "
            + " and ".join(found),
            str(source),
        )
    verify_scenario_checksum(text, expected, str(source))


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def _without_encoding(ds: xr.Dataset) -> xr.Dataset:
    """Shallow copy without the encodings of a reopened file, which would clash with the new ones."""
    prepared = ds.drop_encoding()
    prepared.attrs = dict(ds.attrs)
    return prepared


def _regular(chunks: tuple[int, ...]) -> bool:
    """Tell whether dask chunks map onto equal zarr chunks (all equal but a smaller last one)."""
    return all(size == chunks[0] for size in chunks[:-1]) and chunks[-1] <= chunks[0]


def _default_chunks(dims: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """Whole along every dimension but ``draw``, which is cut into chunks of DEFAULT_DRAW_CHUNK draws."""
    return tuple(
        max(1, min(size, DEFAULT_DRAW_CHUNK) if dim == "draw" else size)
        for dim, size in zip(dims, shape, strict=True)
    )


def _draw_chunks(variable: xr.Variable) -> tuple[int, ...]:
    """Chunk shape of a stored variable: a dask variable's own chunks when regular, else the default."""
    if variable.chunks is not None and all(_regular(sizes) for sizes in variable.chunks):
        return tuple(max(1, sizes[0]) for sizes in variable.chunks)
    return _default_chunks(variable.dims, variable.shape)


def _regularised(ds: xr.Dataset) -> xr.Dataset:
    """Rechunk (lazily) the dask variables whose chunks zarr cannot store as they are."""
    irregular = [
        name
        for name, variable in ds.variables.items()
        if variable.chunks is not None and not all(_regular(sizes) for sizes in variable.chunks)
    ]
    if not irregular:
        return ds
    ds = ds.copy()
    for name in irregular:
        variable = ds.variables[name]
        ds[name] = variable.chunk(
            dict(zip(variable.dims, _default_chunks(variable.dims, variable.shape), strict=True))
        )
    return ds


def _netcdf_encoding(ds: xr.Dataset, level: int) -> dict[Hashable, dict[str, Any]]:
    encoding: dict[Hashable, dict[str, Any]] = {}
    for name, variable in ds.variables.items():
        # HDF5 cannot chunk or filter a scalar, and compressing variable-length strings saves nothing.
        if variable.ndim == 0 or variable.dtype.kind not in "biuf" or level == 0:
            continue
        chunks = list(_draw_chunks(variable))
        if "draw" in variable.dims:
            axis = variable.dims.index("draw")
            bytes_per_draw = variable.dtype.itemsize * math.prod(
                size for i, size in enumerate(chunks) if i != axis
            )
            chunks[axis] = max(1, min(chunks[axis], _NETCDF_CHUNK_BYTES // max(1, bytes_per_draw)))
        if name == PACKED_INPUTS and _PACKED_DIM in variable.dims:
            chunks[variable.dims.index(_PACKED_DIM)] = 1  # an input is read on its own: a row a chunk
        encoding[name] = {"zlib": True, "complevel": level, "shuffle": True, "chunksizes": tuple(chunks)}
    return encoding


def _zarr_encoding(ds: xr.Dataset, level: int) -> dict[Hashable, dict[str, Any]]:
    Blosc = require("numcodecs", "save_results(format='zarr')").Blosc  # noqa: N806  (a class)

    compressors = (Blosc(cname="zstd", clevel=level, shuffle=Blosc.SHUFFLE),) if level else ()
    return {
        name: {"chunks": _draw_chunks(variable), "compressors": compressors}
        for name, variable in ds.variables.items()
    }


def _write_zarr(ds: xr.Dataset, target: Path, level: int, overwrite: bool) -> None:
    zarr = require("zarr", "save_results(format='zarr')")

    partial = _partial_path(target)
    if overwrite and os.path.lexists(partial):
        _remove(partial)  # an earlier interrupted write: never a complete result
    os.mkdir(partial)  # fails if another writer has just claimed the same path
    try:
        ds = _regularised(ds)
        ds.attrs[COMPLETE_ATTRIBUTE] = 0
        with _tasks_finished_on_exit(ds):
            ds.to_zarr(
                partial,
                mode="w-",
                consolidated=False,
                zarr_format=_ZARR_FORMAT,
                encoding=_zarr_encoding(ds, level),
                compute=True,
                # every chunk a file, even one of fill values, so that a missing file means a lost chunk
                write_empty_chunks=True,
            )
        group = zarr.open_group(partial, mode="r+", zarr_format=_ZARR_FORMAT)
        group.attrs[CHUNKS_ATTRIBUTE] = _count_chunks(partial)
        group.attrs[COMPLETE_ATTRIBUTE] = 1
        # consolidate after the marker, so that the consolidated copy of the root attributes says 1 too
        zarr.consolidate_metadata(partial, zarr_format=_ZARR_FORMAT)
        _fsync_tree(partial)
        _install(partial, target, overwrite, "save_results")
    except BaseException:
        if os.path.lexists(partial):
            _remove(partial)
        raise


@contextlib.contextmanager
def _tasks_finished_on_exit(ds: xr.Dataset) -> Iterator[None]:
    """Run the dask tasks of a write on a private thread pool that is drained before leaving.

    When one task fails or Ctrl-C interrupts the write, dask's shared pool keeps
    running the other tasks, which would write into the output again after it
    has been removed. A private pool is waited for (its queued tasks cancelled)
    so that the clean-up that follows is final. Only dask's default threaded
    scheduler is replaced; a distributed client or a chosen scheduler is kept.
    """
    chunked = [variable.data for variable in ds.variables.values() if variable.chunks is not None]
    if not chunked:
        yield
        return
    # dask-backed variables mean that dask is installed: plain imports
    import dask
    import dask.threaded
    from dask.base import get_scheduler

    if get_scheduler(collections=chunked[:1]) is not dask.threaded.get:
        yield
        return
    # dask.threaded's own CPU_COUNT (imported there from dask.system), the size of its default pool
    workers = dask.config.get("num_workers", None) or dask.threaded.CPU_COUNT  # type: ignore[attr-defined]
    pool = dask.threaded.ContextAwareThreadPoolExecutor(workers)
    try:
        with dask.config.set(pool=pool):
            yield
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _install(staged: Path, target: Path, overwrite: bool, caller: str) -> None:
    """Rename a fully written file or directory to ``target``; remove an old target only afterwards."""
    exists = os.path.lexists(target)
    if exists and not overwrite:
        raise FileExistsError(_exists_message(target, caller))
    if staged.is_file() and (not exists or target.is_symlink() or target.is_file()):
        os.replace(staged, target)  # atomic, over an existing file too
    else:
        # rename() cannot replace a non-empty directory: move the old target aside first
        aside = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.replaced") if exists else None
        if aside is not None:
            os.rename(target, aside)
        try:
            os.rename(staged, target)
        except BaseException:
            if aside is not None:
                os.rename(aside, target)
            raise
        if aside is not None:
            _remove(aside)
    _fsync(target.parent)


def _clear_stale_temporaries(target: Path) -> None:
    """Remove the hidden temporary files that killed writers of ``target`` left beside it.

    Only names :func:`write_atomically` gives temporary files of this very target are
    matched: ``.<name>.`` and ``mkstemp``'s 8 random characters, then ``.partial``; a
    file of another target cannot match, whatever its name.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}{re.escape(PARTIAL_SUFFIX)}")
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return
    for entry in entries:
        if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file's or a directory's entries to disk (directories only where the OS allows it)."""
    if os.name == "nt" and path.is_dir():
        return  # Windows cannot open a directory to sync it
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(root: Path) -> None:
    """Flush every file of a directory tree, then its directories, to disk."""
    from concurrent.futures import ThreadPoolExecutor

    files: list[Path] = []
    folders: list[Path] = []
    for folder, _, names in os.walk(root):
        folders.append(Path(folder))
        files.extend(Path(folder) / name for name in names)
    # Concurrent fsyncs share journal commits (ext4, xfs): ten times faster than one by one here.
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(_fsync, files))
        list(pool.map(_fsync, folders))
