"""The ``--clv-customers`` part of `bench.run`: simulated BTYD customers, 03_rfm's CLV against a reference.

`write_clv_lines` simulates customers with known parameters (`CLV_TRUTH`), `bench_clv`
times ``clv`` and ``clv_reference`` on them, and `compare_clv` compares the fits and the
per-customer predictions.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.generate import rows_label

CLV_TRUTH = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4, "p": 6.25, "q": 3.74, "v": 15.44}
CLV_T_DAYS = (200, 400)
CLV_SEED = 2024


def clv_label(customers: int) -> str:
    """Return the size label of a ``--clv-customers`` run, e.g. ``"1M customers"``."""
    return f"{rows_label(customers)} customers"


def write_clv_lines(customers: int, out_dir: Path, seed: int = CLV_SEED, force: bool = False) -> Path:
    """Write (or reuse) the cleaned transactions of `customers` simulated BTYD customers.

    `helpers.synth_btyd.simulate_btyd` with `CLV_TRUTH`, `CLV_T_DAYS` and `seed`, one line
    per purchase in 01_clean's columns; the file is reused when its fingerprint matches.
    """
    import pandas as pd

    from helpers.synth_btyd import simulate_btyd

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"clv-{rows_label(customers)}-customers.parquet"
    meta = path.with_suffix(".json")
    fingerprint = {"customers": customers, "seed": seed, "truth": CLV_TRUTH, "T_days": list(CLV_T_DAYS)}
    if (not force and path.is_file() and meta.is_file()
            and json.loads(meta.read_text(encoding="utf-8")) == fingerprint):
        return path
    _, truth = simulate_btyd(customers, **CLV_TRUTH, T_days=CLV_T_DAYS, seed=seed, lines=True)
    assert truth.lines is not None
    partial = path.with_name(path.name + ".partial")
    lines: pd.DataFrame = truth.lines
    lines.to_parquet(partial, index=False)
    partial.replace(path)
    meta.write_text(json.dumps(fingerprint, indent=2), encoding="utf-8")
    return path


def bench_clv(customers: int, args: argparse.Namespace, env: dict[str, str], log: Path) -> list[dict[str, Any]]:
    """Simulate `customers` BTYD customers, then time ``clv`` and ``clv_reference`` on them."""
    from bench.run import best_of, run_stage  # bench.run imports this module

    label = clv_label(customers)
    start = time.perf_counter()
    # In a child process: the parent's peak memory would otherwise show in every stage's.
    written = run_stage("clv_lines", {"customers": customers, "data": str(Path(args.data).resolve()),
                                      "seed": CLV_SEED}, env, log)
    if not written["ok"]:
        raise RuntimeError(f"simulating {label} failed: {written['error']}")
    cleaned = Path(written["path"])
    print(f"[{label}] data ready in {time.perf_counter() - start:.0f} s: {cleaned.name} "
          f"({cleaned.stat().st_size / 2**20:,.0f} MiB)", flush=True)
    work = Path(args.data) / "work" / label.replace(" ", "-")
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for name, out in (("clv", "clv.parquet"), ("clv_reference", "clv_reference.parquet")):
        arguments = {"transactions": str(cleaned), "out": str(work / out), "params_file": str(args.engine_params)}
        results.append(best_of(name, arguments, args.repeat, env, log, {"size": label, "rows": customers, "stage": name}))
    results.append(compare_clv(label, customers, work, *results))
    print(f"[{label}] clv vs reference   {results[-1]['detail']}", flush=True)
    return results


def compare_clv(label: str, customers: int, work: Path, ours: dict[str, Any],
                reference: dict[str, Any]) -> dict[str, Any]:
    """Compare ``clv`` with ``clv_reference``: fitted parameters and per-customer predictions.

    Max absolute differences of r, alpha, a, b (BG/NBD), p, q, v (Gamma-Gamma), and of
    P(alive), expected orders in the horizon and expected spend, customers aligned by id.
    """
    import numpy as np
    import pandas as pd

    row: dict[str, Any] = {"size": label, "rows": customers, "stage": "clv_agreement", "ok": None}
    if not (ours.get("ok") and reference.get("ok") and "params" in ours and "params" in reference):
        row["detail"] = "not compared: " + (reference.get("skipped") or reference.get("error")
                                            or ours.get("error") or "missing figures")
        return row
    diffs = {k: abs(ours["params"][k] - reference["params"][k]) for k in CLV_TRUTH}
    mine = pd.read_parquet(work / "clv.parquet", columns=["customer_id", "p_alive", "expected_orders",
                                                          "expected_spend"])
    theirs = pd.read_parquet(work / "clv_reference.parquet").set_index("customer_id").reindex(mine["customer_id"])
    for column in ("p_alive", "expected_orders", "expected_spend"):
        diffs[column] = float(np.nanmax(np.abs(mine[column].to_numpy(dtype=float)
                                               - theirs[column].to_numpy(dtype=float))))
    row.update({f"diff_{k}": v for k, v in diffs.items()})
    row["max_param_diff_bgnbd"] = max(diffs[k] for k in ("r", "alpha", "a", "b"))
    row["ok"] = True
    row["detail"] = ("max abs diff: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
                     + f" (ours r={ours['params']['r']:.4f} alpha={ours['params']['alpha']:.4f} "
                     f"a={ours['params']['a']:.4f} b={ours['params']['b']:.4f}; truth "
                     + ", ".join(f"{k}={CLV_TRUTH[k]}" for k in ("r", "alpha", "a", "b")) + ")")
    return row
