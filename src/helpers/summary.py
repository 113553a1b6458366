"""The run's ``index.html``: an executive summary for marketing plus links to each step.

Everything shown comes from the run's manifest, i.e. from the figures each notebook
recorded with `helpers.metrics.record_metrics`. Blocks whose step did not run are left out.
Metric contracts read here:

- ``01_clean``: first_date, last_date, customers, orders, net_revenue, raw_rows, kept_rows
- ``03_rfm``: ``segments``: list of {segment, customers, customer_share, revenue_share, action}
- ``04_clustering``: chosen_k, k_reason, silhouette, stability_mean_ari, stable
- ``05_personas``: ``personas``: list of {persona, customers, customer_share, revenue_share, action}

All text is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers.steps import STEP_TITLES

_CSS = """
body{font-family:system-ui,-apple-system,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{margin-bottom:.2rem} .meta{color:#666;font-size:.9rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:.5rem;padding:.6rem .9rem;min-width:9rem}
.card b{display:block;font-size:1.35rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
td,th{padding:.35rem .6rem;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap}
.bar{background:#4c72b0;height:.55rem;border-radius:.2rem;display:inline-block}
.flag{color:#a33}
"""


def _pct(value: Any) -> str:
    """Format a share with one decimal, or two when one would show a non-zero share as 0.0%.

    >>> [_pct(v) for v in (0.848, -0.00049, 0.0004, 0.0, None)]
    ['84.8%', '-0.05%', '0.04%', '0.0%', '']
    """
    try:
        share = float(value)
    except (TypeError, ValueError):
        return ""
    return f"{share:.2%}" if 0 < abs(share) < 0.0005 else f"{share:.1%}"


def _num(value: Any, decimals: int = 0) -> str:
    try:
        return f"{float(value):,.{decimals}f}"
    except (TypeError, ValueError):
        return ""


def _cards(clean: Mapping[str, Any]) -> str:
    if not clean:
        return ""
    esc = html.escape
    first, last = str(clean.get("first_date", ""))[:10], str(clean.get("last_date", ""))[:10]
    cards = [
        ("Period", f"{esc(first)} to {esc(last)}"),
        ("Customers", _num(clean.get("customers"))),
        ("Orders", _num(clean.get("orders"))),
        ("Net revenue", _num(clean.get("net_revenue"), 2)),
    ]
    body = "".join(f'<div class="card">{label}<b>{value}</b></div>' for label, value in cards)
    note = (
        f'<p class="meta">{_num(clean.get("raw_rows"))} transaction lines read, '
        f'{_num(clean.get("kept_rows"))} kept after cleaning (see the cleaning report).</p>'
    )
    return f'<div class="cards">{body}</div>{note}'


def _group_table(title: str, rows: Sequence[Mapping[str, Any]], name_key: str, link: str) -> str:
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows) or not rows:
        return ""
    esc = html.escape
    lines = []
    for row in rows:
        share = float(row.get("revenue_share") or 0)
        bar = f'<span class="bar" style="width:{max(share, 0) * 8:.2f}rem"></span>'
        lines.append(
            f"<tr><td>{esc(str(row.get(name_key, '')))}</td>"
            f'<td class="num">{_num(row.get("customers"))}</td>'
            f'<td class="num">{_pct(row.get("customer_share"))}</td>'
            f'<td class="num">{_pct(row.get("revenue_share"))}</td><td>{bar}</td>'
            f"<td>{esc(str(row.get('action', '')))}</td></tr>"
        )
    return (
        f'<h2>{esc(title)}</h2><p class="meta">Details: <a href="{esc(link)}">{esc(link)}</a></p>'
        f'<table><tr><th>{esc(name_key.capitalize())}</th><th class="num">Customers</th>'
        f'<th class="num">Share</th><th class="num">Revenue share</th><th></th><th>Suggested action</th></tr>'
        + "".join(lines)
        + "</table>"
    )


def _clustering(block: Mapping[str, Any]) -> str:
    if not block:
        return ""
    esc = html.escape
    stable = block.get("stable")
    verdict = (
        "" if stable is None
        else ("stable across resamples" if stable else '<span class="flag">not stable across resamples: treat with care</span>')
    )
    return (
        "<h2>Clustering</h2>"
        f"<p><b>{_num(block.get('chosen_k'))} clusters</b>. {esc(str(block.get('k_reason', '')))} "
        f"Silhouette {_num(block.get('silhouette'), 2)}; bootstrap stability (mean adjusted Rand index) "
        f"{_num(block.get('stability_mean_ari'), 2)}: {verdict}. "
        'Details: <a href="04_clustering.html">04_clustering.html</a></p>'
    )


def index_html(manifest: Mapping[str, Any]) -> str:
    """Return the executive-summary page for a run's manifest.

    Parameters
    ----------
    manifest : mapping
        The run manifest (run_id, input, steps, metrics, total_seconds).

    Returns
    -------
    str
        A self-contained HTML page (no scripts, no external resources).
    """
    esc = html.escape
    metrics = manifest.get("metrics", {})
    steps = "".join(
        f'<tr><td><a href="{esc(s["notebook"])}.html">{esc(s["notebook"])}</a></td>'
        f'<td>{esc(STEP_TITLES.get(s["notebook"], s["notebook"]))}</td>'
        f'<td class="num">{float(s["seconds"]):.1f} s</td></tr>'
        for s in manifest.get("steps", [])
    )
    run_id = esc(str(manifest.get("run_id", "")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Customer segmentation report {run_id}</title><style>{_CSS}</style></head>
<body><h1>Customer segmentation report</h1>
<p class="meta">Run {run_id} &middot; input {esc(Path(manifest["input"]["path"]).name)}
(sha256 {esc(manifest["input"]["sha256"][:12])}&hellip;) &middot; made in {float(manifest.get("total_seconds", 0)):.0f} s</p>
{_cards(metrics.get("01_clean", {}))}
{_group_table("Personas at a glance", metrics.get("05_personas", {}).get("personas", []), "persona", "05_personas.html")}
{_group_table("RFM segments at a glance", metrics.get("03_rfm", {}).get("segments", []), "segment", "03_rfm.html")}
{_clustering(metrics.get("04_clustering", {}))}
<h2>Step reports</h2>
<table><tr><th>Report</th><th>What it shows</th><th class="num">Time</th></tr>{steps}</table>
<p class="meta">Reproduce with <code>make report PARAMS=reports/{run_id}/params.yaml</code>. Parameters,
input checksum, package versions, row counts and timings: <a href="manifest.json">manifest.json</a>.</p>
</body></html>
"""


def write_index(run_dir: Path, manifest: Mapping[str, Any]) -> Path:
    """Write ``index.html`` into `run_dir` and return its path."""
    out = Path(run_dir) / "index.html"
    out.write_text(index_html(manifest), encoding="utf-8")
    return out
