"""Scale benchmark: a streamed summary run in a fresh process, and a 2-worker LocalCluster vs one process.

Usage::

    python -m benchmarks.scale --draws 1e8 --repeats 3 --cluster-draws 4e6

Each summary run is a fresh subprocess (``simulate(keep="summary")``), so its
peak resident memory (``ru_maxrss`` of the child) covers imports, compilation
(warm numba cache) and the run. Reports medians over ``--repeats`` runs.
The cluster comparison computes the same streamed summary on a
``LocalCluster(n_workers=2, threads_per_worker=1)`` and in one process with
two numba threads, both after a warm-up run, in the same session.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

CHILD = """
import json, sys, time
import nhsrisk
draws, chunks = int(float(sys.argv[1])), int(sys.argv[2])
nhsrisk.simulate(draws=1000, seed=1, keep="summary")  # load kernels from the numba cache
t0 = time.perf_counter()
s = nhsrisk.simulate(draws=draws, seed=1, keep="summary", chunks=chunks, progress=False)
print(json.dumps({"seconds": time.perf_counter() - t0, "npv_mean": float(s["npv_mean"])}))
"""


def summary_run(draws: int, chunks: int) -> dict[str, float]:
    """One streamed run in a fresh process: wall time of the run and the child's peak RSS in MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(draws), str(chunks)], capture_output=True, text=True, check=True
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = json.loads(result.stdout.strip().splitlines()[-1])
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: runs are sized alike, so a larger
    # earlier child would only make this an overestimate
    out["peak_rss_mb"] = max(peak_kb, before) / 1024
    return out


def cluster_comparison(draws: int, chunks: int) -> dict[str, float]:
    """Seconds for the same streamed summary on a 2-worker LocalCluster and in one 2-thread process."""
    from distributed import Client, LocalCluster

    import nhsrisk

    nhsrisk.simulate(draws=chunks, seed=2, keep="summary", chunks=chunks)
    t0 = time.perf_counter()
    local = nhsrisk.simulate(draws=draws, seed=2, keep="summary", chunks=chunks, progress=False)
    threaded = time.perf_counter() - t0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            nhsrisk.simulate(draws=2 * chunks, seed=2, keep="summary", chunks=chunks, client=client)
            t0 = time.perf_counter()
            remote = nhsrisk.simulate(draws=draws, seed=2, keep="summary", chunks=chunks, client=client)
            distributed = time.perf_counter() - t0
    assert abs(float(remote["npv_mean"]) - float(local["npv_mean"])) <= 1e-12 * abs(float(local["npv_mean"]))
    return {"threaded_seconds": threaded, "cluster_seconds": distributed}


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=float, default=1e8)
    parser.add_argument("--chunks", type=int, default=2**17)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cluster-draws", type=float, default=4e6)
    args = parser.parse_args()
    draws = int(args.draws)
    runs = [summary_run(draws, args.chunks) for _ in range(args.repeats)]
    seconds = statistics.median(r["seconds"] for r in runs)
    rss = statistics.median(r["peak_rss_mb"] for r in runs)
    print(f"| streamed summary, {draws:.0e} draws, chunks of {args.chunks} | median of {args.repeats} |")
    print("| --- | ---: |")
    print(f"| wall time (s) | {seconds:.1f} |")
    print(f"| throughput (M draws/s) | {draws / seconds / 1e6:.3f} |")
    print(f"| peak resident memory (MB) | {rss:.0f} |")
    all_runs = ", ".join(f"{r['seconds']:.1f}" for r in runs)
    print(f"| all runs (s) | {all_runs} |")
    cluster_draws = int(args.cluster_draws)
    times = [cluster_comparison(cluster_draws, args.chunks) for _ in range(args.repeats)]
    threaded = statistics.median(t["threaded_seconds"] for t in times)
    remote = statistics.median(t["cluster_seconds"] for t in times)
    print()
    print(f"| {cluster_draws:.0e} draws, streamed summary | seconds (median of {args.repeats}) | M draws/s |")
    print("| --- | ---: | ---: |")
    print(f"| one process, 2 numba threads | {threaded:.2f} | {cluster_draws / threaded / 1e6:.3f} |")
    print(f"| LocalCluster, 2 workers x 1 thread | {remote:.2f} | {cluster_draws / remote / 1e6:.3f} |")
    print(f"| cluster / threaded time | {remote / threaded:.2f} | |")


if __name__ == "__main__":
    main()
