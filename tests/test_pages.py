"""Step pages without a kernel: alt text, chart figures, phone tables, page CSS (helpers.pages, helpers.report)."""

from __future__ import annotations

import base64
import struct
import zlib
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from IPython.core.formatters import PNGFormatter  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output  # noqa: E402

from helpers import pages, report  # noqa: E402
from helpers.runner import TEMPLATE_DIR  # noqa: E402


def png(width: int = 911, height: int = 461, dpi: float | None = 100.0) -> str:
    """A valid PNG header (IHDR, optional pHYs) as base64: enough for the geometry."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    if dpi is not None:
        raw += chunk(b"pHYs", struct.pack(">IIB", round(dpi / 0.0254), round(dpi / 0.0254), 1))
    return base64.b64encode(raw + chunk(b"IEND", b"")).decode()


def chart(title: str | None = None, **size) -> dict:
    metadata = {"image/png": {"alt": title}} if title else {}
    return new_output("display_data", {"image/png": png(**size), "text/plain": "<Figure>"}, metadata=metadata)


def takeaway_output(text: str) -> dict:
    return new_output("display_data", {"text/html": report.takeaway(text).data})


def notebook() -> nbformat.NotebookNode:
    """Two sections: two titled charts with a takeaway each, then an untitled chart without one."""
    return new_notebook(cells=[
        new_markdown_cell("# 02 · EDA\n\nIntro."),
        new_markdown_cell("## 6. How big orders are\n\nHistograms are binned in **DuckDB**; only counts reach Python."),
        new_code_cell(outputs=[chart("Value of orders"), takeaway_output("The median order is 300."),
                               chart("Items per order"), takeaway_output("The median is 156 items."),
                               new_output("stream", name="stderr", text="UserWarning: /home/ana/x.py\n")]),
        new_markdown_cell("### Segment size vs revenue share\n\nA segment whose revenue bar is longer is worth more."),
        new_code_cell(outputs=[chart(), new_output("error", ename="KeyError", evalue="x", traceback=[])]),
    ])


def test_each_chart_gets_its_title_and_its_own_takeaway():
    alts = [alt for _, alt in pages.chart_alt_texts(notebook().cells)]
    assert alts == [
        "Value of orders. The median order is 300.",
        "Items per order. The median is 156 items.",
        "Segment size vs revenue share. A segment whose revenue bar is longer is worth more.",
    ]


def test_a_chart_without_title_heading_or_text_still_gets_an_alt_text():
    cells = [new_code_cell(outputs=[chart()])]
    assert [alt for _, alt in pages.chart_alt_texts(cells)] == ["Chart"]


def test_prepare_turns_charts_into_figures_and_drops_stderr_and_errors():
    prepared = pages.prepare_notebook(notebook())
    outputs = [out for cell in prepared.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not any("image/png" in out.get("data", {}) for out in outputs)
    assert not any(out.get("name") == "stderr" or out["output_type"] == "error" for out in outputs)
    figures = [out["data"]["text/html"] for out in outputs if "chart-box" in out.get("data", {}).get("text/html", "")]
    assert len(figures) == 3
    assert 'alt="Value of orders. The median order is 300."' in figures[0]
    assert 'style="min-width:656px"' in figures[0] and "chart-hint" in figures[0]


def test_rendered_page_has_viewport_css_and_no_default_alt_text(tmp_path):
    page = notebook()
    page.cells[2].outputs.append(new_output("display_data", {"text/html": "<img src='data:image/png;base64,xx'>"}))
    executed = tmp_path / "02_eda.ipynb"
    nbformat.write(page, executed)
    html = pages.render_page(executed, "02_eda - EDA", TEMPLATE_DIR)
    assert html.count('name="viewport"') == 1 and "figure.chart .chart-box" in html
    assert pages.DEFAULT_ALT not in html and "UserWarning" not in html and "KeyError" not in html
    assert html.count('alt="') == 4
    assert 'alt="6. How big orders are"' in html  # an image from HTML output: the heading above it


def test_pages_rendered_one_after_another_match_pages_rendered_alone(tmp_path, monkeypatch):
    first, second = tmp_path / "02_eda.ipynb", tmp_path / "03_rfm.ipynb"
    nbformat.write(notebook(), first)
    other = notebook()
    other.cells[0].source = "# 03 · RFM\n\nOther intro."
    nbformat.write(other, second)
    shared = [pages.render_page(path, path.stem, TEMPLATE_DIR) for path in (first, second, first)]
    alone = []
    for path in (first, second):
        monkeypatch.setattr(pages, "_EXPORTERS", {})  # a fresh exporter for each page
        alone.append(pages.render_page(path, path.stem, TEMPLATE_DIR))
    assert shared == [alone[0], alone[1], alone[0]] and "Other intro." in shared[1] and "Other intro." not in shared[2]


def test_chart_min_width_keeps_ten_point_labels_at_ten_pixels():
    assert pages.chart_min_width(911, 100.0) == 656
    assert pages.chart_min_width(1822, 200.0) == 656  # twice the dpi: the same legible width
    assert pages.chart_min_width(1822, 200.0, css_width=911) == 656  # a retina PNG shown at half size
    assert pages.chart_min_width(1510, 100.0) == pages.MAX_MIN_WIDTH  # still fits a laptop column
    assert pages.chart_min_width(500, 72.0) == 500  # never wider than the chart itself


def test_png_geometry_reads_the_dpi_and_rejects_what_is_not_a_png():
    assert pages.png_geometry(base64.b64decode(png(300, 200, dpi=150.0))) == (300, 200, pytest.approx(150.0, abs=0.05))
    assert pages.png_geometry(base64.b64decode(png(300, 200, dpi=None))) == (300, 200, pages.DEFAULT_DPI)
    with pytest.raises(ValueError, match="not a PNG"):
        pages.png_geometry(b"GIF89a" + b"\0" * 30)


def test_label_figures_records_the_title_once_and_keeps_the_png():
    formatter = PNGFormatter()
    formatter.for_type(Figure, lambda fig: "iVBOR")
    shell = SimpleNamespace(display_formatter=SimpleNamespace(formatters={"image/png": formatter}))
    report.label_figures(shell)
    report.label_figures(shell)  # a second call does not wrap twice
    fig, ax = plt.subplots()
    ax.set_title("Orders by weekday")
    try:
        assert formatter(fig) == ("iVBOR", {"alt": "Orders by weekday"})
    finally:
        plt.close(fig)


def test_label_figures_does_nothing_without_inline_figures():
    formatter = PNGFormatter()
    shell = SimpleNamespace(display_formatter=SimpleNamespace(formatters={"image/png": formatter}))
    report.label_figures(shell)
    with pytest.raises(KeyError):
        formatter.lookup_by_type(Figure)


def test_a_wide_table_stacks_on_a_phone_with_a_label_on_every_cell():
    wide = pd.DataFrame({"calinski_harabasz": [1.0], "davies_bouldin": [2.0], "silhouette": [0.3],
                         "smallest_cluster_share": [0.1], "<b>note</b>": ["chosen"]})
    html = report.table_html(wide).data
    assert f'class="{report.STACK_CLASS}"' in html
    assert html.count("data-label=") == 5 and 'data-label="&lt;b&gt;note&lt;/b&gt;"' in html
    assert "calinski_<wbr>harabasz" in html and "<b>note" not in html


def test_a_narrow_table_stays_a_table():
    html = report.table_html(pd.DataFrame({"figure": ["lines"], "value": [399_656]})).data
    assert report.STACK_CLASS not in html and "data-label" not in html and "399,656" in html


def test_finish_adds_a_viewport_only_when_missing():
    bare = pages.finish_html("<html><head></head><body><p>x</p></body></html>", "p { color: red; }")
    assert pages.VIEWPORT in bare and "p { color: red; }" in bare
    assert pages.finish_html(bare, "").count('name="viewport"') == 1
