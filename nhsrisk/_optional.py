"""Optional dependencies: import them when a feature needs them, or say which extra to install.

The core install runs every single-machine analysis. Chunked runs (dask),
streamed summaries (Apache DataSketches), zarr stores and dask clusters need
the ``scale`` extra; each place that needs one asks for it here, so that the
message (which feature, which package, which command installs it) is written
once and raised before any heavy work.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["SCALE_EXTRA", "available", "require"]

#: The extra that brings dask, distributed, zarr and datasketches.
SCALE_EXTRA = "scale"

#: Import name -> distribution name, where the two differ.
_DISTRIBUTIONS = {"datasketches": "datasketches", "distributed": "distributed", "numcodecs": "zarr"}


def available(module: str) -> bool:
    """Tell whether ``module`` can be imported (without raising).

    Examples
    --------
    >>> available("numpy")
    True
    >>> available("no_such_module_here")
    False
    """
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def require(module: str, feature: str, extra: str = SCALE_EXTRA) -> ModuleType:
    """Import ``module`` for ``feature``, or raise an ImportError naming the extra that installs it.

    Parameters
    ----------
    module : str
        Import name, such as ``"dask.array"``.
    feature : str
        What the caller asked for, as the user wrote it (``"simulate(chunks=...)"``).
    extra : str, default="scale"
        The optional-dependency group of nhsrisk that provides the module.

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    ImportError
        If the module cannot be imported; the message names the feature, the
        missing package and ``pip install 'nhsrisk[<extra>]'``.

    Examples
    --------
    >>> require("numpy", "an example").__name__
    'numpy'
    >>> require("no_such_module_here", "an example")
    Traceback (most recent call last):
    ...
    ImportError: an example needs the optional package 'no_such_module_here', which is not installed. Install it with: pip install 'nhsrisk[scale]'
    """  # noqa: E501
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        package = _DISTRIBUTIONS.get(top, top)
        raise ImportError(
            f"{feature} needs the optional package {package!r}, which is not installed. "
            f"Install it with: pip install 'nhsrisk[{extra}]'",
            name=module,
        ) from err
