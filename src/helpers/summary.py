"""The run's ``index.html``: an executive summary for marketing plus links to each step.

Everything shown comes from the run's manifest, i.e. from the figures each notebook
recorded with `helpers.metrics.record_metrics`. Blocks whose step did not run are left out.
Metric contracts read here:

- ``01_clean``: first_date, last_date, customers, orders, net_revenue, raw_rows, kept_rows
- ``03_rfm``: ``segments``: list of {segment, customers, customer_share, revenue_share, action}
- ``04_clustering``: chosen_k, k_reason, silhouette, stability_mean_ari, stable
- ``05_personas``: ``personas``: list of {persona, customers, customer_share, revenue_share, action}
  and, when 03_rfm's future-value model ran, predicted_value_share, likely_lapsed_share and
  churn_high_share (shown as the columns "Predicted value share" and "Churn risk"; manifests
  without them render as before)

All text is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers.steps import STEP_TITLES

TEMPLATE_DIR = Path(__file__).parent / "templates" / "index"
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


def _cards(clean: Mapping[str, Any]) -> list[tuple[str, str]]:
    first, last = str(clean.get("first_date", ""))[:10], str(clean.get("last_date", ""))[:10]
    return [
        ("Period", f"{first} to {last}"),
        ("Customers", _num(clean.get("customers"))),
        ("Orders", _num(clean.get("orders"))),
        ("Net revenue", _num(clean.get("net_revenue"), 2)),
    ]


def _group(title: str, rows: Any, name_key: str, link: str) -> dict[str, Any] | None:
    """A persona or segment table, or None when the step did not run or recorded another shape."""
    if not isinstance(rows, list) or not rows or not all(isinstance(r, Mapping) for r in rows):
        return None
    shown = [{**row, name_key: str(row.get(name_key, "")), "action": str(row.get("action", "")),
              "bar_rem": max(float(row.get("revenue_share") or 0), 0) * 8,
              "value_share": _pct(row.get("predicted_value_share")),
              "churn": f"{_pct(row.get('churn_high_share'))} high" if _pct(row.get("churn_high_share")) else ""}
             for row in rows]
    future = any(row["value_share"] or row["churn"] for row in shown)
    return {"title": title, "rows": shown, "name_key": name_key, "link": link, "future": future}


def _template() -> Any:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=False, lstrip_blocks=False,
    )
    environment.filters.update(num=_num, pct=_pct)
    return environment.get_template("index.html.j2")


def index_html(manifest: Mapping[str, Any]) -> str:
    """Return the executive-summary page for a run's manifest.

    Parameters
    ----------
    manifest : mapping
        The run manifest (run_id, input, steps, metrics, total_seconds).

    Returns
    -------
    str
        A self-contained HTML page (no scripts, no external resources), rendered from
        ``templates/index/index.html.j2`` with autoescape on.
    """
    metrics = manifest.get("metrics", {})
    clean = metrics.get("01_clean", {})
    groups = [
        _group("Personas at a glance", metrics.get("05_personas", {}).get("personas", []), "persona", "05_personas.html"),
        _group("RFM segments at a glance", metrics.get("03_rfm", {}).get("segments", []), "segment", "03_rfm.html"),
    ]
    steps = [{"notebook": s["notebook"], "title": STEP_TITLES.get(s["notebook"], s["notebook"]),
              "seconds": float(s["seconds"])} for s in manifest.get("steps", [])]
    return _template().render(
        css=_CSS, run_id=str(manifest.get("run_id", "")), input_name=Path(manifest["input"]["path"]).name,
        input_sha256=str(manifest["input"]["sha256"]), total_seconds=float(manifest.get("total_seconds", 0)),
        clean=clean, cards=_cards(clean) if clean else [], groups=[g for g in groups if g],
        clustering=metrics.get("04_clustering", {}), steps=steps,
    ) + "\n"


def write_index(run_dir: Path, manifest: Mapping[str, Any]) -> Path:
    """Write ``index.html`` into `run_dir` and return its path."""
    out = Path(run_dir) / "index.html"
    out.write_text(index_html(manifest), encoding="utf-8")
    return out
