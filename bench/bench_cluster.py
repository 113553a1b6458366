"""Benchmark: cluster 1,000,000 synthetic customers end to end (not a test).

Usage::

    .venv/bin/python bench/bench_cluster.py [--customers 1000000] [--seed 42]
    /usr/bin/time -v .venv/bin/python bench/bench_cluster.py   # peak memory seen by the OS

Generates an RFM table shaped like 03_rfm's (four kinds of buyers, 1% without a kept
order, a few with negative net revenue), then runs what 04_clustering runs with the
default settings: `run_clustering` (split, K scan, K-Means, Ward and DBSCAN on a sample
plus assignment, comparison, hold-out, bootstrap), `labels_frame`, the Parquet output,
`save_model`, scoring every customer again with the saved model (labels must match) and
every plot. Prints the wall time per stage and the peak resident memory
(``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from helpers import cluster  # noqa: E402
from helpers import cluster_plots as cplots  # noqa: E402


def synthetic_rfm(customers: int, seed: int = 42) -> pd.DataFrame:
    """Return an RFM-like table: four kinds of buyers, 1% without a kept order.

    Kinds (share): loyal (20%: recent, 4-30 orders), new (30%: recent, 1-2 orders),
    lapsed (35%: 150-370 days ago, 1-3 orders), big wholesalers (15%: many large orders).
    """
    rng = np.random.default_rng(seed)
    kind = rng.choice(4, size=customers, p=[0.2, 0.3, 0.35, 0.15])
    recency_mean = np.array([20.0, 25.0, 250.0, 30.0])[kind]
    recency = np.clip(rng.gamma(2.0, recency_mean / 2.0), 1, 373).round()
    orders_mean = np.array([10.0, 0.4, 0.8, 25.0])[kind]
    frequency = 1 + rng.poisson(orders_mean)
    aov = rng.lognormal(np.log(np.array([300.0, 200.0, 180.0, 1500.0])[kind]), 0.6)
    monetary = frequency * aov
    refunded = rng.random(customers) < 0.003  # returns exceeding purchases in the window
    monetary[refunded] = -rng.uniform(1, 200, refunded.sum())
    tenure = np.minimum(374, recency + np.where(frequency > 1, rng.uniform(10, 300, customers), 0)).round()
    table = pd.DataFrame(
        {
            "customer_id": pd.Series(np.arange(customers)).map("{:07d}".format),
            "recency_days": recency,
            "frequency": frequency.astype("int64"),
            "monetary": monetary,
            "tenure_days": tenure,
            "avg_order_value": monetary / frequency,
        }
    )
    no_order = rng.random(customers) < 0.01
    table.loc[no_order, "frequency"] = 0
    table.loc[no_order, ["recency_days", "tenure_days", "avg_order_value"]] = np.nan
    table.loc[no_order, "monetary"] = -rng.uniform(0, 50, no_order.sum())
    return table


def _peak_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print timings and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    stages: dict[str, float] = {}
    start = clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[name] = round(now - clock, 2)
        clock = now
        print(f"{name:<12} {stages[name]:8.2f} s   peak {_peak_mib():8.0f} MiB", flush=True)

    table = synthetic_rfm(args.customers, args.seed)
    lap("generate")
    settings = cluster.ClusterSettings(seed=args.seed)
    run = cluster.run_clustering(table, settings)
    lap("cluster")
    with tempfile.TemporaryDirectory() as folder:
        labels = cluster.labels_frame(run)
        cluster.check_labels(labels, table["customer_id"])
        labels.to_parquet(Path(folder) / cluster.CLUSTERS_FILE, index=False)
        model_file = cluster.save_model(run, cluster.model_path("", folder))
        lap("write")
        scored = cluster.score_customers(cluster.load_model(model_file), table)
        if not (scored["cluster"].to_numpy() == labels["cluster"].to_numpy()).all():
            print("error: scoring with the saved model changed labels", file=sys.stderr)
            return 1
        lap("score")
    summary = cluster.cluster_summary(run)
    for fig, _ in (
        cplots.plot_k_selection(run.k_table, run.choice),
        cplots.plot_dendrogram(run.ward),
        cplots.plot_k_distance(run.dbscan),
        cplots.plot_cluster_sizes(summary),
        cplots.plot_projection(run),
        cplots.plot_profiles(cluster.cluster_profile(run), summary),
        cplots.plot_rfm_boxplots(run),
    ):
        fig.savefig(Path(tempfile.gettempdir()) / "bench_cluster_last.png", dpi=50)
        plt.close(fig)
    lap("plots")

    total = round(time.perf_counter() - start, 2)
    metrics = cluster.headline_metrics(run)
    print(f"\n{args.customers:,} customers: chosen K = {run.choice.k} ({run.choice.reason})")
    print(f"sizes {metrics['sizes']}; silhouette {metrics['silhouette']}; "
          f"stability mean ARI {metrics['stability_mean_ari']}; DBSCAN noise {metrics['dbscan_noise_share']:.1%}")
    print(f"inside run_clustering: {run.timings}")
    print(f"total wall time {total:.1f} s; peak resident memory {_peak_mib():,.0f} MiB")
    print(json.dumps({"customers": args.customers, "wall_seconds": total, "peak_mib": round(_peak_mib()),
                      "stages": stages, "run_clustering": run.timings, "chosen_k": run.choice.k}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
