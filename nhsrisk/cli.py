"""Command line: ``nhsrisk run`` simulates a scenario, prints a summary and writes results."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nhsrisk.io import save_results, write_atomically

__all__ = ["main", "streaming_table", "summary_table"]


def _positive_count(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number >= 1 (such as 100000 or 1e6), got {text!r}"
        ) from None
    if not value.is_integer() or value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 (such as 100000 or 1e6), got {text!r}")
    return int(value)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**128), got {text!r}") from None
    if not 0 <= value < 2**128:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**128), got {text!r}")
    return value


def _add_scenario_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--scenario",
        default="spring-budget-2024",
        help="built-in scenario name or a TOML file (default: spring-budget-2024)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nhsrisk", description="Monte Carlo productivity-risk analysis of NHS technology investment."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="simulate a scenario, print a summary, write results.nc and three figures"
    )
    _add_scenario_argument(run)
    run.add_argument(
        "--draws", type=_positive_count, default=100_000, help="Monte Carlo draws (default: 100000)"
    )
    run.add_argument(
        "--seed", type=_seed, default=None, help="seed (default: fresh entropy, recorded in results)"
    )
    run.add_argument("--out", default="nhsrisk-out", help="output directory (default: ./nhsrisk-out)")
    run.add_argument("--force", action="store_true", help="overwrite existing output files")
    run.add_argument(
        "--summary-only",
        action="store_true",
        help="keep no draws: stream summary statistics chunk by chunk in bounded memory and write "
        "summary.nc (for very large runs such as --draws 1e8)",
    )
    run.add_argument(
        "--chunks",
        type=_positive_count,
        default=None,
        help="draws per chunk (default: 131072 with --summary-only)",
    )
    run.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the chunks on an existing dask cluster (scheduler address such as tcp://host:8786)",
    )
    run.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="show a progress bar"
    )
    describe = commands.add_parser(
        "describe", help="print every figure of a scenario with its source (Markdown)"
    )
    _add_scenario_argument(describe)
    return parser


def summary_table(ds) -> str:
    """Plain-text summary of a results Dataset: NPV, BCR and cumulative value against the target.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`nhsrisk.simulate`.

    Returns
    -------
    str
        A table of the mean, 5th, 50th and 95th percentiles (GBP bn) and the
        probability of reaching the claimed return with its Monte Carlo standard error.

    Examples
    --------
    >>> import nhsrisk
    >>> print(summary_table(nhsrisk.simulate(draws=2_000, seed=3)))  # doctest: +ELLIPSIS
    Scenario spring-budget-2024: 2,000 draws, seed 3, ...
    """
    final_year = ds.attrs["target_year"]
    first_year = ds["year"].values[0]
    cumulative = ds["cumulative_value"].sel(year=final_year).values
    target = float(ds["claimed_return"])
    rows = [
        ("NPV (GBP bn)", ds["npv"].values / 1e9),
        ("Benefit-cost ratio", ds["bcr"].values),
        (f"Cumulative value {first_year} to {final_year} (GBP bn)", cumulative / 1e9),
    ]
    width = max(len(r[0]) for r in rows) + 2
    lines = [
        f"Scenario {ds.attrs['scenario_name']}: {ds.sizes['draw']:,} draws, seed {ds.attrs['seed']}, "
        f"{ds.attrs['price_base']} prices",
        "",
        f"{'':<{width}}{'mean':>10}{'p5':>10}{'p50':>10}{'p95':>10}",
    ]
    for label, values in rows:
        p5, p50, p95 = np.percentile(values, [5, 50, 95])
        lines.append(f"{label:<{width}}{values.mean():>10.3f}{p5:>10.3f}{p50:>10.3f}{p95:>10.3f}")
    reached = cumulative >= target
    lines += [
        "",
        f"Claimed return (target): GBP {target / 1e9:.2f}bn cumulative by {final_year}",
        f"P(cumulative value reaches the target) {_probability(reached)}",
        f"Median shortfall against the target: GBP {(target - np.median(cumulative)) / 1e9:.2f}bn",
        f"P(benefit-cost ratio < 1) {_probability(ds['bcr'].values < 1)}",
        f"Staff-time cap binding: {_cap_report(ds)}",
    ]
    return "\n".join(lines)


def _cap_report(ds) -> str:
    """How often the per-group cap on released hours binds, over draws and years."""
    share = ds["hours_capped"].mean(("year", "draw"))
    groups = share["staff_group"].values
    binding = [
        (str(group), float(value)) for group, value in zip(groups, share.values, strict=True) if value > 0
    ]
    if not binding:
        return "never (in no draw, year or staff group)"
    return ", ".join(f"{group} {value:.2%} of draw-years" for group, value in binding)


def _probability(events: np.ndarray) -> str:
    """Format a probability with its Monte Carlo error, or a 95% bound when no or every draw is an event.

    With ``k`` events in ``n`` draws the standard error ``sqrt(p (1 - p) / n)``
    is zero at ``k = 0`` or ``k = n``, which would claim certainty; there the
    one-sided 95% bound ``1 - 0.05 ** (1 / n)`` (about ``3 / n``, the rule of
    three) is reported instead.
    """
    n = events.size
    k = int(np.count_nonzero(events))
    p = k / n
    bound = 1.0 - 0.05 ** (1.0 / n)
    if k == 0:
        return f"< {bound:.2g} (95% upper bound: none of {n:,} draws)"
    if k == n:
        return f"> {1 - bound:.6g} (95% lower bound: all {n:,} draws)"
    return f"= {p:.4f} (Monte Carlo s.e. {np.sqrt(p * (1 - p) / n):.2g})"


#: Figures written by ``nhsrisk run``, by file name.
FIGURES = ("fan.png", "exceedance.png", "waterfall.png")
#: Draws per step of the waterfall written by ``nhsrisk run`` (at most the run's own draws).
WATERFALL_DRAWS = 20_000


def _figure(draw: Callable[[Any], Any], path: Path) -> None:
    """Draw on a fresh Agg figure and save it as PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    draw(fig.add_subplot())
    fig.savefig(path, format="png", dpi=150)


def _unwritable(folder: Path) -> str | None:
    """Why no file can be created in ``folder``, or None when one can.

    A real file is created and removed, rather than ``os.access`` consulted: root passes
    every permission check, yet still cannot write to a read-only mount or to /proc.
    """
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".nhsrisk-write-check-")
    except OSError as err:
        return err.strerror or str(err)
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


def run(args: argparse.Namespace) -> int:
    """Carry out ``nhsrisk run``."""
    import nhsrisk

    out = Path(args.out)
    if args.summary_only:
        targets = {"summary": out / "summary.nc"}
    else:
        targets = {"results": out / "results.nc", **{name: out / name for name in FIGURES}}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not args.force:
        print(f"nhsrisk run: refusing to overwrite {', '.join(existing)} (use --force)", file=sys.stderr)
        return 2
    try:
        scenario = nhsrisk.load_scenario(args.scenario)
    except (ValueError, FileNotFoundError) as err:
        print(f"nhsrisk run: {err}", file=sys.stderr)
        return 2
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"nhsrisk run: cannot create output directory {out}: {err}", file=sys.stderr)
        return 2
    problem = _unwritable(out)
    if problem is not None:
        print(f"nhsrisk run: cannot write to output directory {out}: {problem}", file=sys.stderr)
        return 2
    client = None
    if args.scheduler is not None:
        try:
            from distributed import Client
        except ImportError:
            print(
                "nhsrisk run: --scheduler needs dask.distributed: pip install 'nhsrisk[distributed]'",
                file=sys.stderr,
            )
            return 2
        try:
            client = Client(args.scheduler, timeout="10s")
        except OSError as err:
            print(f"nhsrisk run: cannot reach the dask scheduler at {args.scheduler}: {err}", file=sys.stderr)
            return 2
    try:
        if args.summary_only:
            return _run_summary_only(args, scenario, targets["summary"], client)
        chunks = args.chunks if args.chunks is not None else (2**17 if client is not None else None)
        ds = nhsrisk.simulate(
            scenario, draws=args.draws, seed=args.seed, chunks=chunks, progress=args.progress
        )
        if chunks is not None:
            ds = ds.compute()  # on the cluster when a client is active
    finally:
        if client is not None:
            client.close()
    # Results first, so that a reader who stops reading early (`nhsrisk run | head`) still gets them.
    save_results(ds, targets["results"], overwrite=True)  # --force was checked above
    from nhsrisk import plot
    from nhsrisk.experiments import waterfall

    bridge = waterfall(
        scenario, draws=min(args.draws, WATERFALL_DRAWS), seed=int(ds.attrs["seed"]), progress=False
    )
    drawings = {
        "fan.png": lambda ax: plot.fan(ds, ax=ax),
        "exceedance.png": lambda ax: plot.exceedance(ds, ax=ax),
        "waterfall.png": lambda ax: plot.waterfall(bridge, ax=ax),
    }
    for name, draw in drawings.items():
        write_atomically(targets[name], lambda p, draw=draw: _figure(draw, p))
    print(summary_table(ds))
    print(f"\nWrote {', '.join(str(p) for p in targets.values())}")
    return 0


def _run_summary_only(args: argparse.Namespace, scenario, path: Path, client) -> int:
    import nhsrisk

    summary = nhsrisk.simulate(
        scenario,
        draws=args.draws,
        seed=args.seed,
        keep="summary",
        chunks=args.chunks,
        client=client,
        progress=args.progress,
    )
    write_atomically(path, lambda p: summary.to_netcdf(p, engine="h5netcdf"))
    print(streaming_table(summary))
    print(f"\nWrote {path}")
    return 0


def streaming_table(summary) -> str:
    """Plain-text table of a streaming summary (``simulate(..., keep="summary")``).

    Parameters
    ----------
    summary : xarray.Dataset
        Output of ``nhsrisk.simulate(..., keep="summary")``.

    Returns
    -------
    str
        Mean with its Monte Carlo standard error and sketch quantiles (GBP bn
        for money) of NPV, BCR and the cumulative value by the target year,
        and the probabilities of reaching the claimed return and of BCR < 1.

    Examples
    --------
    >>> import nhsrisk
    >>> print(streaming_table(nhsrisk.simulate(draws=2_000, seed=3, keep="summary")))  # doctest: +ELLIPSIS
    Scenario spring-budget-2024: 2,000 draws (streamed), seed 3
    ...
    """
    year = summary.attrs["target_year"]
    n = summary.attrs["n_draws"]
    rows = [
        ("NPV (GBP bn)", "npv", {}, 1e9),
        ("Benefit-cost ratio", "bcr", {}, 1.0),
        (f"Cumulative value by {year} (GBP bn)", "cumulative_value", {"year": year}, 1e9),
    ]
    width = max(len(r[0]) for r in rows) + 2
    quantiles = summary["quantile"].values
    header = "".join(f"{f'p{round(q * 100)}':>10}" for q in quantiles)
    lines = [
        f"Scenario {summary.attrs['scenario_name']}: {n:,} draws (streamed), seed {summary.attrs['seed']}",
        "",
        f"{'':<{width}}{'mean':>10}{'s.e.':>10}{header}",
    ]
    for label, name, where, scale in rows:
        mean = float(summary[f"{name}_mean"].sel(where)) / scale
        mcse = float(summary[f"{name}_mcse"].sel(where)) / scale
        values = summary[f"{name}_quantile"].sel(where).values / scale
        lines.append(f"{label:<{width}}{mean:>10.3f}{mcse:>10.2g}" + "".join(f"{v:>10.3f}" for v in values))
    bound = 1.0 - 0.05 ** (1.0 / n)
    p_target = float(summary["p_target"])
    target_text = (
        f"< {bound:.2g} (95% upper bound: none of {n:,} draws)"
        if p_target == 0
        else f"= {p_target:.4g} (s.e. {float(summary['p_target_mcse']):.2g})"
    )
    lines += [
        "",
        f"Quantiles from a KLL sketch: rank error within {summary.attrs['quantile_rank_error']:.2%} "
        "(99% confidence); means and probabilities exact.",
        f"P(cumulative value reaches GBP {float(summary['claimed_return']) / 1e9:.2f}bn by {year}) "
        f"{target_text}",
        f"P(benefit-cost ratio < 1) = {float(summary['p_bcr_below_1']):.6g} "
        f"(s.e. {float(summary['p_bcr_below_1_mcse']):.2g})",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nhsrisk`` console script."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:
        # The reader closed the pipe (`nhsrisk run | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return run(args)
    if args.command == "describe":
        import nhsrisk

        try:
            print(nhsrisk.load_scenario(args.scenario).to_markdown(), end="")
        except (ValueError, FileNotFoundError) as err:
            print(f"nhsrisk describe: {err}", file=sys.stderr)
            return 2
        return 0
    return 2  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
