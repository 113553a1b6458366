"""The run's ``index.html``: the personas and what to do about them, for marketing.

The first screen shows one card per persona (size, share of net revenue, predicted value and
churn risk when 03_rfm's future-value model ran, the recommended actions) and links to the
files marketing uses (``segments.csv``, ``personas.csv``) and to every step page. The
analyst's details (input checksum, timings, model metrics, why this K) sit in an "About this
run" section that is closed by default. Every path shown is relative to the project or the
run folder; every text from the data is escaped (jinja2 autoescape).

Sources:

- ``personas.csv`` of the run folder (`read_personas`): name, rule, sizes, shares, predicted
  value, churn, description and ``action_1``..``action_3``. Without it (05 did not run, or an
  old run) the manifest's ``05_personas.personas`` metrics are shown instead, one action each.
- the manifest's metrics: ``01_clean`` (first_date, last_date, customers, orders,
  net_revenue, raw_rows, kept_rows), ``03_rfm`` ``segments`` (segment, customers,
  customer_share, revenue_share, action), ``04_clustering`` (chosen_k, k_reason, silhouette,
  stability_mean_ari, stable). Blocks whose step did not run are left out.
- the manifest's params: ``report.currency`` / ``report.locale`` (`helpers.formatting`),
  ``clv.horizon_days``, ``paths.reports_dir``.

Computation (``*_rows``, `persona_card`, `index_context`) is apart from presentation
(``templates/index/*.j2``).
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers.catalog import dataset
from helpers.config import PROJECT_ROOT
from helpers.engine import EngineSettings
from helpers.formatting import Formats
from helpers.steps import step_title

TEMPLATE_DIR = Path(__file__).parent / "templates" / "index"
DEFAULT_COLOR = "#4c72b0"
_FORMULA_START = ("'=", "'+", "'-", "'@", "'\t", "'\r")  # helpers.exports.neutralise_formula


def breakable(text: Any) -> Any:
    """Escape `text` and let it wrap after ``/ _ . -``, so a long file name never widens a table.

    >>> str(breakable("data/raw/<x>.csv"))
    'data/<wbr>raw/<wbr>&lt;x&gt;.<wbr>csv'
    """
    import markupsafe

    return markupsafe.Markup(re.sub(r"([/_.\-])", r"\1<wbr>", str(markupsafe.escape(str(text)))))


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.StrictUndefined,
    )
    environment.filters["breakable"] = breakable
    return environment


def render(template: str, **context: Any) -> str:
    """Render ``templates/index/<template>`` with autoescape on and undefined names failing.

    Parameters
    ----------
    template : str
        File name in ``templates/index/``, e.g. ``"index.html.j2"``.
    **context
        The template's variables.

    Returns
    -------
    str
        The rendered text.
    """
    return _environment().get_template(template).render(**context)


def display_path(path: str | Path | None, root: str | Path = PROJECT_ROOT) -> str:
    """Return `path` relative to `root`, or only its file name when it lies elsewhere.

    Pages never show the machine's folders: a report is shared beyond the machine.

    Examples
    --------
    >>> display_path("/p/data/raw/orders.csv", "/p"), display_path("/elsewhere/orders.csv", "/p")
    ('data/raw/orders.csv', 'orders.csv')
    >>> display_path(None, "/p"), display_path("orders.csv", "/p")
    ('', 'orders.csv')
    """
    if not path:
        return ""
    path = Path(path)
    if not path.is_absolute():
        return path.as_posix()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def as_float(value: Any) -> float | None:
    """Return `value` as a float, or None when it is empty, missing or not a number.

    >>> as_float("0.25"), as_float(""), as_float(None), as_float("nan"), as_float(3)
    (0.25, None, None, None, 3.0)
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def share_text(formats: Formats, value: Any) -> str:
    """Write a share with one decimal, or two below 0.1% so a non-zero share never reads 0.0%.

    >>> f = Formats("GBP", "en_GB")
    >>> [share_text(f, v) for v in (0.848, -0.0005, 0.0004, 0.0, None)]
    ['84.8%', '-0.05%', '0.04%', '0.0%', '']
    """
    share = as_float(value)
    if share is None:
        return ""
    return formats.percent(share, 2 if 0 < abs(share) < 0.001 else 1)


def plain_text(value: Any) -> str:
    """Undo the apostrophe that ``personas.csv`` puts before formula-like text.

    >>> plain_text("'=HYPERLINK(1)"), plain_text("Loyal"), plain_text(None)
    ('=HYPERLINK(1)', 'Loyal', '')
    """
    text = "" if value is None else str(value)
    return text[1:] if text.startswith(_FORMULA_START) else text


def read_personas(run_dir: str | Path) -> list[dict[str, str]]:
    """Return the rows of the run's ``personas.csv`` as text, or [] when there is none.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (``reports/<run id>``) that 05_personas wrote into.

    Returns
    -------
    list of dict
        One mapping per persona, column name to cell text.
    """
    path = Path(run_dir) / dataset("personas").filename
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def persona_rows(csv_rows: Sequence[Mapping[str, Any]], metric_rows: Any) -> list[dict[str, Any]]:
    """Return one record per persona from ``personas.csv`` rows, else from the 05 metrics.

    Parameters
    ----------
    csv_rows : sequence of mapping
        `read_personas` output; preferred when not empty.
    metric_rows : Any
        The manifest's ``05_personas.personas`` list (one ``action`` each); ignored when it
        has another shape.

    Returns
    -------
    list of dict
        Keys persona, rule, customers, customer_share, revenue_share, predicted_value,
        predicted_value_share, likely_lapsed_share, churn_high_share (floats or None),
        description, actions (list of text).

    Examples
    --------
    >>> rows = persona_rows([], [{"persona": "A", "customers": 3, "action": "Call"}])
    >>> rows[0]["persona"], rows[0]["actions"], rows[0]["predicted_value"]
    ('A', ['Call'], None)
    """
    if csv_rows:
        source = [{**row, "actions": [row.get(f"action_{i}") for i in (1, 2, 3)],
                   "likely_lapsed_share": row.get("share_likely_lapsed")} for row in csv_rows]
    elif isinstance(metric_rows, list) and metric_rows and all(isinstance(r, Mapping) for r in metric_rows):
        source = [{**row, "actions": [row.get("action")]} for row in metric_rows]
    else:
        return []
    numbers = ("customers", "customer_share", "revenue_share", "predicted_value", "predicted_value_share",
               "likely_lapsed_share", "churn_high_share")
    return [{"persona": plain_text(row.get("persona")), "rule": str(row.get("rule") or ""),
             "description": plain_text(row.get("description")),
             "actions": [plain_text(a) for a in row["actions"] if a not in (None, "")],
             **{key: as_float(row.get(key)) for key in numbers}} for row in source]


def _rule_color(rule_key: str) -> str:
    """The persona rule's card colour (as on the 05 cards); a default for unknown rules."""
    from helpers.persona_rules import rule

    try:
        return rule(rule_key).color
    except KeyError:
        return DEFAULT_COLOR


def persona_card(row: Mapping[str, Any], formats: Formats, horizon_days: Any = None) -> dict[str, Any]:
    """Return what one persona card shows: name, colour, size line, figures, actions.

    Figures that were not recorded (no future-value model) are left out, not shown blank.

    Examples
    --------
    >>> card = persona_card({"persona": "A", "rule": "", "customers": 1703.0, "customer_share": 0.39,
    ...                      "revenue_share": 0.848, "predicted_value": 6022668.2,
    ...                      "predicted_value_share": 0.699, "churn_high_share": None,
    ...                      "description": "", "actions": ["Call"]}, Formats("GBP", "en_GB"), 365)
    >>> card["size"], card["figures"]
    ('1,703 customers · 39.0% of all', [('Share of net revenue', '84.8%'), ('Predicted value, next 365 days', '£6,022,668'), ('Predicted value share', '69.9%')])
    """
    figures = [("Share of net revenue", share_text(formats, row.get("revenue_share")))]
    value, value_share = row.get("predicted_value"), share_text(formats, row.get("predicted_value_share"))
    horizon = f", next {formats.number(horizon_days)} days" if as_float(horizon_days) else ""
    if value is not None:
        # a prediction: whole currency units, pence would be false precision
        figures.append((f"Predicted value{horizon}", formats.money(value, 0)))
    figures.append(("Predicted value share", value_share))
    if row.get("churn_high_share") is not None:
        figures.append(("Churn risk", f"{share_text(formats, row['churn_high_share'])} high"))
    customers = row.get("customers")
    size = f"{formats.number(customers)} customers" if customers is not None else ""
    if row.get("customer_share") is not None:
        size += f" · {share_text(formats, row['customer_share'])} of all"
    return {"name": row["persona"], "color": _rule_color(row.get("rule", "")), "size": size,
            "figures": [(label, text) for label, text in figures if text],
            "actions": list(row.get("actions", [])), "description": row.get("description", "")}


def segment_rows(rows: Any, formats: Formats) -> list[dict[str, str]]:
    """Return the RFM segment table's rows as text, or [] when 03 recorded another shape.

    >>> segment_rows([{"segment": "Champions", "customers": 598, "customer_share": 0.137,
    ...                "revenue_share": 0.499, "action": "Reward"}], Formats(None, "en_GB"))
    [{'segment': 'Champions', 'customers': '598', 'customer_share': '13.7%', 'revenue_share': '49.9%', 'action': 'Reward'}]
    """
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        return []
    customers = [as_float(r.get("customers")) for r in rows]
    return [{"segment": str(r.get("segment", "")),
             "customers": formats.number(n) if n is not None else "",
             "customer_share": share_text(formats, r.get("customer_share")),
             "revenue_share": share_text(formats, r.get("revenue_share")),
             "action": str(r.get("action", ""))} for r, n in zip(rows, customers, strict=True)]


def headline(clean: Mapping[str, Any], formats: Formats) -> list[tuple[str, str]]:
    """Return the key figures of 01_clean as (label, text), or [] when 01 did not run.

    >>> headline({"first_date": "2010-12-01 08:26", "last_date": "2011-12-09", "customers": 4362,
    ...           "orders": 18402, "net_revenue": 8265476.93}, Formats("GBP", "en_GB"))[::3]
    [('Period', '2010-12-01 to 2011-12-09'), ('Net revenue', '£8,265,476.93')]
    """
    if not clean:
        return []
    first, last = str(clean.get("first_date", ""))[:10], str(clean.get("last_date", ""))[:10]
    figures = [("Period", f"{first} to {last}" if first and last else "")]
    for label, key in (("Customers", "customers"), ("Orders", "orders")):
        number = as_float(clean.get(key))
        figures.append((label, formats.number(number) if number is not None else ""))
    revenue = as_float(clean.get("net_revenue"))
    figures.append(("Net revenue", formats.money(revenue) if revenue is not None else ""))
    return [(label, text) for label, text in figures if text]


def _run_params_file(reports_dir: str | Path, run_id: str, root: str | Path) -> str:
    """The run's params.yaml relative to the project, or a placeholder for its folder."""
    shown = display_path(Path(reports_dir) / run_id / "params.yaml", root)
    return shown if "/" in shown else "<run folder>/params.yaml"


def about_run(manifest: Mapping[str, Any], formats: Formats, root: str | Path = PROJECT_ROOT) -> dict[str, Any]:
    """Return the technical facts of the run (for "About this run"), every path relative.

    Parameters
    ----------
    manifest : mapping
        The run manifest.
    formats : Formats
        Number formatting of the run.
    root : str or Path
        Project folder; paths under it are shown relative to it, others by file name.

    Returns
    -------
    dict
        params_files, input, input_bytes, sha256, rows, steps, total_seconds, overlap (a line when the
        steps' times add up to more than the run's), clustering,
        model_sha256, reproduce, packages, engine.
    """
    params, metrics = manifest.get("params", {}) or {}, manifest.get("metrics", {}) or {}
    source = manifest.get("input", {}) or {}
    clean = metrics.get("01_clean", {}) or {}
    run_id = str(manifest.get("run_id", ""))
    reports_dir = (params.get("paths", {}) or {}).get("reports_dir") or "reports"
    level = (params.get("input", {}) or {}).get("level", "transactions")
    steps = [{"notebook": s["notebook"], "title": step_title(s["notebook"], level),
              "seconds": f"{float(s.get('seconds', 0)):.1f} s",
              "memory": f"{formats.number(s['peak_memory_mib'])} MiB" if s.get("peak_memory_mib") else ""}
             for s in manifest.get("steps", [])]
    step_sum = sum(float(s.get("seconds", 0)) for s in manifest.get("steps", []))
    total = float(manifest.get("total_seconds") or 0)
    # Steps side by side (helpers.schedule): their times add up to more than the run's
    overlap = (f"Some steps ran side by side, so their times add up to {step_sum:.0f} s, more than "
               f"the run's {total:.0f} s." if total and step_sum > total + 0.5 else "")
    rows = [(label, formats.number(clean[key])) for label, key in
            (("Transaction lines read", "raw_rows"), ("kept after cleaning", "kept_rows")) if as_float(clean.get(key))]
    return {
        "run_id": run_id, "started": str(manifest.get("started", "")).replace("T", " "),
        "finished": str(manifest.get("finished", "")).replace("T", " "),
        "params_files": [display_path(p, root) for p in manifest.get("params_sources", [])],
        "input": display_path(source.get("path"), root), "sha256": str(source.get("sha256", "")),
        "input_bytes": formats.number(source["bytes"]) if as_float(source.get("bytes")) is not None else "",
        "rows": rows, "steps": steps, "total_seconds": f"{total:.0f} s", "overlap": overlap,
        "clustering": metrics.get("04_clustering", {}) or {},
        "model_sha256": str((manifest.get("model") or {}).get("sha256", "")),
        "reproduce": f"make report PARAMS={_run_params_file(reports_dir, run_id, root)}",
        "packages": ", ".join(f"{k} {v}" for k, v in (manifest.get("packages") or {}).items()),
        "engine": engine_line(params),
    }


def engine_line(params: Mapping[str, Any]) -> str:
    """Say which engine ran the transaction-level work (``engine.kind``), for "About this run".

    >>> engine_line({})
    'DuckDB, embedded'
    >>> engine_line({"engine": {"kind": "spark", "spark": {"master": "local[*]"}}})
    "Apache Spark, master local[*] (a step's peak memory counts its Python kernel, not Spark's JVM)"
    """
    settings = EngineSettings.from_params(params)
    if settings.kind != "spark":
        return "DuckDB, embedded"
    return f"Apache Spark, master {settings.spark_master} (a step's peak memory counts its Python kernel, not Spark's JVM)"


def index_context(
    manifest: Mapping[str, Any], personas: Sequence[Mapping[str, Any]] = (), root: str | Path = PROJECT_ROOT
) -> dict[str, Any]:
    """Return every value ``index.html`` shows, as text, from a manifest and ``personas.csv`` rows.

    Parameters
    ----------
    manifest : mapping
        The run manifest (run_id, input, steps, metrics, params, ...).
    personas : sequence of mapping
        `read_personas` output of the run folder; empty to use the manifest's metrics.
    root : str or Path
        Project folder, for relative paths.

    Returns
    -------
    dict
        The template's variables (see ``templates/index/index_main.html.j2``).
    """
    params, metrics = manifest.get("params", {}) or {}, manifest.get("metrics", {}) or {}
    formats = Formats.from_params(params)
    horizon = (params.get("clv", {}) or {}).get("horizon_days")
    cards = [persona_card(row, formats, horizon)
             for row in persona_rows(personas, (metrics.get("05_personas", {}) or {}).get("personas"))]
    notebooks = [s["notebook"] for s in manifest.get("steps", [])]
    level = (params.get("input", {}) or {}).get("level", "transactions")
    files = [(dataset(name).filename, note) for name, note in
             (("personas", "one row per persona"), ("segments", "one row per customer, for the CRM"))
             if "05_personas" in notebooks]
    return {
        "run_id": str(manifest.get("run_id", "")),
        "input_name": Path(str((manifest.get("input", {}) or {}).get("path", ""))).name,
        "headline": headline(metrics.get("01_clean", {}) or {}, formats), "cards": cards,
        "persona_page": "05_personas.html" if "05_personas" in notebooks else "",
        "files": files, "segments": segment_rows((metrics.get("03_rfm", {}) or {}).get("segments"), formats),
        "stable": (metrics.get("04_clustering", {}) or {}).get("stable"),
        "steps": [{"href": f"{n}.html", "notebook": n, "title": step_title(n, level)} for n in notebooks],
        "about": about_run(manifest, formats, root),
    }


def index_html(
    manifest: Mapping[str, Any], personas: Sequence[Mapping[str, Any]] = (), root: str | Path = PROJECT_ROOT,
) -> str:
    """Return the run's ``index.html`` page.

    Parameters
    ----------
    manifest : mapping
        The run manifest (run_id, input, steps, metrics, params, total_seconds).
    personas : sequence of mapping
        Rows of the run's ``personas.csv`` (`read_personas`); empty: the manifest's metrics.
    root : str or Path
        Project folder: paths are shown relative to it.

    Returns
    -------
    str
        A self-contained HTML page (no scripts, no external resources), rendered from
        ``templates/index/index.html.j2`` with autoescape on.
    """
    return render("index.html.j2", for_print=False, **index_context(manifest, personas, root)) + "\n"


def write_index(run_dir: Path, manifest: Mapping[str, Any], root: str | Path = PROJECT_ROOT) -> Path:
    """Write ``index.html`` into `run_dir` (reading its ``personas.csv``) and return its path."""
    out = Path(run_dir) / "index.html"
    out.write_text(index_html(manifest, read_personas(run_dir), root), encoding="utf-8")
    return out
