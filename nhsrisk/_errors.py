"""The package's own exception types, below every module that raises them.

:class:`ScenarioError` is raised by the scenario parser (:mod:`nhsrisk.scenario`)
and by the readers of stored results (:mod:`nhsrisk._stored`, :mod:`nhsrisk.io`);
it lives here so that neither has to import the other. Import it from
:mod:`nhsrisk` or :mod:`nhsrisk.scenario`.
"""

from __future__ import annotations

__all__ = ["ScenarioError"]


class ScenarioError(ValueError):
    """A scenario is malformed: names the file (if any), the key path and the problem.

    Examples
    --------
    >>> str(ScenarioError("risks.digital_exclusion", "must be <= 1", "my.toml"))
    'my.toml: risks.digital_exclusion: must be <= 1'
    """

    # Its public home: tracebacks and pickles name nhsrisk.scenario.ScenarioError.
    __module__ = "nhsrisk.scenario"

    def __init__(self, path: str, problem: str, file: str | None = None) -> None:
        self.path = path
        self.problem = problem
        self.file = file
        where = f"{file}: " if file else ""
        super().__init__(f"{where}{path}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str | None]]:
        # so that it survives pickling (a dask worker raising it to the client)
        return (type(self), (self.path, self.problem, self.file))
