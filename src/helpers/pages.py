"""Step pages: an executed notebook made into an HTML page readable from a phone to a laptop.

`render_page` is what `helpers.runner.render_html` calls. Before nbconvert renders the
notebook, stderr and error outputs are dropped and every chart becomes a figure whose image
carries alt text: the chart's title (recorded in the kernel by
`helpers.report.label_figures`, else the section heading above it) and its takeaway (the
`helpers.report.takeaway` line shown after it in the same cell, else the first sentence of
the section's text). After rendering, the page gets a viewport and its own CSS
(``templates/page/page.css``).

Charts at 390 px: images scale to the page width, but never below the width at which a
10 pt matplotlib label still measures `MIN_LABEL_PX` CSS pixels (`chart_min_width`). A
chart kept wider than the phone scrolls sideways inside its own box, with a one-line hint,
instead of shrinking its labels to about 4 px; the page itself never scrolls sideways.
Why not shrink and let the reader pinch-zoom: that zooms the whole page, so each chart
means zooming in, panning in two directions and zooming out again, while a kept width
needs one sideways swipe and the text stays at reading size. On a laptop the kept width
(at most `MAX_MIN_WIDTH`) always fits, and printing (`helpers.pdf`) drops it.
"""

from __future__ import annotations

import base64
import html
import re
import struct
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from helpers.report import ALT_KEY, TAKEAWAY_CLASS

PAGE_CSS = Path(__file__).parent / "templates" / "page" / "page.css"
DEFAULT_ALT = "No description has been provided for this image"  # what nbconvert writes otherwise
MIN_LABEL_PX = 10.0  # CSS px a 10 pt chart label keeps on a narrow screen
LABEL_POINTS = 10.0  # matplotlib's default font size
DEFAULT_DPI = 100.0  # matplotlib's figure.dpi, when a PNG does not say
MAX_MIN_WIDTH = 960  # a kept width never exceeds a laptop's column: nothing scrolls at 1280 px
PHONE_WIDTH = 600  # a chart kept wider than this scrolls on a phone: the hint says so
VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)", re.DOTALL)


def render_page(executed: Path, title: str, template_dir: Path) -> str:
    """Return the HTML page of an executed notebook: code, prompts and stderr hidden.

    Parameters
    ----------
    executed : Path
        The executed ``.ipynb``.
    title : str
        The page title.
    template_dir : Path
        Folder holding the nbconvert template ``report``.

    Returns
    -------
    str
        Self-contained HTML (images embedded, no scripts).
    """
    import nbformat

    notebook = prepare_notebook(nbformat.read(executed, as_version=4))
    with _EXPORTER_LOCK:  # steps side by side render from their own threads
        body, _ = _exporter(template_dir).from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return finish_html(body, PAGE_CSS.read_text(encoding="utf-8"))


_EXPORTERS: dict[Path, Any] = {}
_EXPORTER_LOCK = threading.Lock()


def _exporter(template_dir: Path) -> Any:
    """nbconvert's HTML exporter for the template ``report`` in `template_dir`, made once.

    It compiles its Jinja templates on first use (0.12 s); one exporter serves every page
    of a run.
    """
    from nbconvert import HTMLExporter

    if template_dir not in _EXPORTERS:
        _EXPORTERS[template_dir] = HTMLExporter(
            extra_template_basedirs=[str(template_dir)],
            template_name="report",
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            embed_images=True,
        )
    return _EXPORTERS[template_dir]


def prepare_notebook(notebook: Any) -> Any:
    """Drop stderr and error outputs and turn each chart into a figure with alt text, in place.

    Parameters
    ----------
    notebook : nbformat.NotebookNode

    Returns
    -------
    nbformat.NotebookNode
        The same notebook.
    """
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                out for out in cell.get("outputs", [])
                if not (out.get("output_type") == "stream" and out.get("name") == "stderr")
                and out.get("output_type") != "error"
            ]
    for output, alt in list(chart_alt_texts(notebook.cells)):  # every alt text read before any chart changes
        output["data"] = {"text/html": figure_html(output["data"]["image/png"], alt,
                                                   output.get("metadata", {}).get("image/png", {}).get("width")),
                          "text/plain": "chart"}
        output["metadata"] = {}
    return notebook


def chart_alt_texts(cells: Sequence[Any]) -> Iterator[tuple[Any, str]]:
    """Yield each PNG output of `cells` with its alt text: title, then takeaway.

    The title is the one `helpers.report.label_figures` recorded, else the nearest markdown
    heading above. The takeaway is the first `helpers.report.takeaway` line after the chart
    in its cell (before the next chart), else the first sentence of the text under the
    heading.

    Examples
    --------
    >>> from nbformat.v4 import new_code_cell, new_markdown_cell, new_output
    >>> chart = new_output("display_data", {"image/png": "iVBO"}, metadata={"image/png": {"alt": "Orders per month"}})
    >>> note = new_output("display_data", {"text/html": '<p class="takeaway"><b>Takeaway:</b> May peaks.</p>'})
    >>> cells = [new_markdown_cell("## 2. Orders\\n\\nMonths without orders show as **zero**. More."),
    ...          new_code_cell(outputs=[chart, note]), new_code_cell(outputs=[new_output("display_data", {"image/png": "iVBO"})])]
    >>> [alt for _, alt in chart_alt_texts(cells)]
    ['Orders per month. May peaks.', 'Orders. Months without orders show as zero.']
    """
    heading = intro = ""
    for cell in cells:
        if cell.cell_type == "markdown":
            heading, intro = _section(cell.source, heading, intro)
            continue
        outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
        for i, output in enumerate(outputs):
            if "image/png" not in output.get("data", {}):
                continue
            title = str(output.get("metadata", {}).get("image/png", {}).get(ALT_KEY) or heading)
            yield output, join_sentences(title, _takeaway_after(outputs[i + 1:]) or intro) or "Chart"


def join_sentences(*parts: str) -> str:
    """Join non-empty parts into sentences, adding a full stop where one is missing.

    Examples
    --------
    >>> join_sentences("Orders per month", "", "May peaks.")
    'Orders per month. May peaks.'
    >>> join_sentences("Why?\\n(two lines)", "Because")
    'Why? (two lines). Because.'
    """
    kept = [" ".join(p.split()) for p in parts if p and p.strip()]
    return " ".join(p if p[-1] in ".!?:" else f"{p}." for p in kept)


def _section(markdown: str, heading: str, intro: str) -> tuple[str, str]:
    """Return the heading and first sentence a markdown cell leaves in force.

    A cell with a heading starts a section (its intro: the first sentence of the text after
    the heading); a cell without one keeps the heading and becomes the intro.
    """
    found = list(_HEADING.finditer(markdown))
    if found:
        heading, markdown = re.sub(r"^\d+\.\s+", "", _plain(found[-1].group(1))), markdown[found[-1].end():]
    paragraphs = [p for p in re.split(r"\n\s*\n", markdown.strip()) if p.strip() and p.lstrip()[0] not in "|`<>#-"]
    first = _plain(paragraphs[0]) if paragraphs else ""
    match = _SENTENCE.match(first)
    sentence = match.group(1) if match else first
    return heading, sentence if (found or sentence) else intro


def _takeaway_after(outputs: Sequence[Any]) -> str:
    """Return the text of the first takeaway line in `outputs` before the next chart."""
    for output in outputs:
        data = output.get("data", {})
        if "image/png" in data:
            return ""
        markup = data.get("text/html", "")
        markup = "".join(markup) if isinstance(markup, list) else markup
        if f'class="{TAKEAWAY_CLASS}"' in markup:
            text = html.unescape(re.sub(r"<[^>]+>", "", markup))
            return " ".join(text.split()).removeprefix("Takeaway:").strip()
    return ""


def _plain(markdown: str) -> str:
    """Markdown emphasis, code and links as plain text on one line.

    Examples
    --------
    >>> _plain("**Reads** `rfm.parquet` from [03](03_rfm.html),\\n*then* writes")
    'Reads rfm.parquet from 03, then writes'
    """
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"(\*\*|__|`)", "", text)
    text = re.sub(r"(?<!\w)[*_](\S[^*_]*?)[*_](?!\w)", r"\1", text)
    return " ".join(text.split())


def png_geometry(png: bytes) -> tuple[int, int, float]:
    """Return a PNG's width and height in pixels and its dots per inch.

    The dpi comes from the ``pHYs`` chunk matplotlib writes (pixels per metre); without
    one, `DEFAULT_DPI`.
    """
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", png[16:24])
    offset = 8
    while offset + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[offset:offset + 8])
        if kind == b"pHYs" and length == 9:
            per_x, _, unit = struct.unpack(">IIB", png[offset + 8:offset + 17])
            if unit == 1 and per_x > 0:
                return width, height, per_x * 0.0254
        if kind in (b"IDAT", b"IEND"):  # pHYs must come before the image data
            break
        offset += 12 + length
    return width, height, DEFAULT_DPI


def chart_min_width(pixels: int, dpi: float, css_width: float | None = None) -> int:
    """Return the narrowest CSS width at which a chart's 10 pt labels stay legible.

    Parameters
    ----------
    pixels : int
        Width of the PNG in pixels.
    dpi : float
        Its resolution: a 10 pt label is ``10 * dpi / 72`` pixels high in the PNG.
    css_width : float, optional
        Width it is shown at when not its pixel width (e.g. retina PNGs: half).

    Returns
    -------
    int
        CSS pixels, at most the chart's own width and at most `MAX_MIN_WIDTH`.

    Examples
    --------
    >>> chart_min_width(911, 100.0)  # a 9-inch matplotlib chart
    656
    >>> chart_min_width(1510, 100.0)  # kept within a laptop's column
    960
    >>> chart_min_width(300, 100.0)
    216
    """
    css_width = float(css_width or pixels)
    label_px = LABEL_POINTS * dpi / 72 * css_width / pixels
    return int(round(min(css_width * MIN_LABEL_PX / label_px, css_width, MAX_MIN_WIDTH)))


def figure_html(png_base64: str, alt: str, css_width: float | None = None) -> str:
    """Return the HTML figure of one PNG chart: scaled to the page, never below its legible width.

    Examples
    --------
    >>> import base64, struct, zlib
    >>> head = struct.pack(">IIBBBBB", 911, 461, 8, 2, 0, 0, 0)
    >>> png = b"\\x89PNG\\r\\n\\x1a\\n" + struct.pack(">I", 13) + b"IHDR" + head + struct.pack(">I", zlib.crc32(b"IHDR" + head))
    >>> figure = figure_html(base64.b64encode(png).decode(), 'Sales "by" month')
    >>> 'alt="Sales &quot;by&quot; month" width="911" height="461" style="min-width:656px"' in figure
    True
    """
    data = "".join(png_base64) if isinstance(png_base64, list) else png_base64
    data = "".join(data.split())
    pixels, height, dpi = png_geometry(base64.b64decode(data))
    width = float(css_width or pixels)
    min_width = chart_min_width(pixels, dpi, width)
    hint = ('<figcaption class="chart-hint">The chart keeps its labels legible: swipe sideways to see all of it.'
            "</figcaption>" if min_width > PHONE_WIDTH else "")
    return (f'<figure class="chart"><div class="chart-box"><img src="data:image/png;base64,{data}" '
            f'alt="{html.escape(alt)}" width="{width:.0f}" height="{height * width / pixels:.0f}" '
            f'style="min-width:{min_width}px"></div>{hint}</figure>')


def finish_html(body: str, css: str) -> str:
    """Add the viewport and the page CSS to a rendered page; give any image still without alt text one.

    Images that did not come from a chart output (none today) get the nearest heading
    above them, so no image keeps nbconvert's default text.
    """
    head = f"{VIEWPORT}\n<style>\n{css}</style>\n" if "name=\"viewport\"" not in body else f"<style>\n{css}</style>\n"
    body = body.replace("</head>", f"{head}</head>", 1)
    if f'alt="{DEFAULT_ALT}"' not in body:
        return body
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(body, features="html.parser")
    for image in soup.find_all("img", alt=DEFAULT_ALT):
        heading = image.find_previous(["h1", "h2", "h3", "h4"])
        image["alt"] = heading.get_text(" ", strip=True).rstrip("¶ ") if heading else "Image"
    return str(soup)
