"""Feedback on long work: progress bars, and a notice when the kernels compile.

``progress=None`` (the default of the public functions) shows a bar only where
someone is watching, a terminal or a Jupyter kernel, and only once a run has
taken a second; CI logs and pipes stay clean. ``True`` forces a bar and
``False`` turns it off. Bars count draws (or cells, runs, options for the
experiments), never chunks.

The first use after an install compiles nhsrisk's numba kernels, which takes
far longer than a run; a process that compiles says so once, on stderr, when
compiling starts (numba's ``numba:compile`` event, which loading a kernel from
the cache does not raise).
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

from numba.core import event

if TYPE_CHECKING:
    from tqdm.std import tqdm as _Tqdm

__all__ = ["COMPILE_NOTICE", "progress_bar"]

#: Said once, on stderr, by a process that compiles nhsrisk's kernels (measured: about 20 s on a
#: 2-core machine, of which 6 s when the first scenario is loaded and 14 s in the first simulate).
COMPILE_NOTICE = (
    "nhsrisk: compiling the simulation kernels, once per install (about 20 s); later runs load them "
    "from the cache"
)


class _CompileNotice(event.Listener):
    """Print :data:`COMPILE_NOTICE` when the first of nhsrisk's kernels starts compiling in this process."""

    def __init__(self) -> None:
        self._said = False
        self._lock = threading.Lock()

    def on_start(self, ev: event.Event) -> None:
        dispatcher = (ev.data or {}).get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        if not module.startswith("nhsrisk"):
            return
        with self._lock:
            if self._said:
                return
            self._said = True
        stream = sys.stderr
        if stream is not None:
            print(COMPILE_NOTICE, file=stream, flush=True)

    def on_end(self, ev: event.Event) -> None:
        pass


# Registered at import, before any kernel can compile (kernels compile on their first call).
event.register("numba:compile", _CompileNotice())

#: Seconds a run must take before an automatic bar appears.
DELAY = 1.0


class _NoBar:
    """Stands in for a bar when none is shown."""

    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _watched() -> bool:
    if "ipykernel" in sys.modules:
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:
            shell = None
        if shell is not None and getattr(shell, "kernel", None) is not None:
            return True
    stream = sys.stderr
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def check_progress(value: Any, caller: str) -> bool | None:
    """Validate a ``progress`` argument: ``None``, ``True`` or ``False``."""
    if value is not None and not isinstance(value, bool):
        raise TypeError(
            f"The 'progress' parameter of {caller} must be True, False or None (automatic). "
            f"Got {value!r} instead."
        )
    return value


def progress_bar(total: int, desc: str, progress: bool | None, unit: str = "draw") -> Any:
    """Return a context-managed bar with ``update(n)``: tqdm's, or a silent stand-in.

    Parameters
    ----------
    total : int
        Number of units of work.
    desc : str
        Label shown before the bar.
    progress : bool or None
        ``True``: always show; ``False``: never; ``None``: in a terminal or a
        notebook only, after :data:`DELAY` seconds.
    unit : str, default="draw"
        Name of a unit of work.

    Returns
    -------
    object
        A ``tqdm.auto.tqdm`` bar or a stand-in with the same ``update`` and
        context-manager methods.

    Examples
    --------
    >>> with progress_bar(10, "demo", progress=False) as bar:
    ...     bar.update(10)
    """
    if progress is False or (progress is None and not _watched()):
        return _NoBar()
    tqdm: type[_Tqdm[Any]]  # tqdm.auto's class is a subclass of tqdm.std's
    try:
        import ipywidgets  # noqa: F401  (tqdm's notebook bar is a widget)
        from tqdm.auto import tqdm
    except ImportError:
        # without ipywidgets tqdm.auto warns in a notebook and falls back to text anyway
        from tqdm.std import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=unit == "draw",
        delay=DELAY if progress is None else 0.0,
        leave=progress is True,
        dynamic_ncols=True,
    )
