"""One PDF of a run for people who read on paper or in mail: the index, then the persona pages.

Usage::

    python -m helpers.pdf [--run reports/latest] [--out FILE]      # or: make pdf

No PDF library is installed (merging two printed PDFs would need one), so the PDF is printed
from one combined HTML document: ``05_personas.html`` with the run's index in front of it
(the print version of ``index.html``: links as plain text, "About this run" left out, a page
break after it). Debian's Chromium prints it (``chromium --headless --print-to-pdf``)
without the header and footer, which would show the machine's file path. Default output:
``report.pdf`` in the run folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from helpers.config import PROJECT_ROOT
from helpers.errors import UserError
from helpers.summary import index_context, read_personas, render

PDF_FILE = "report.pdf"
PERSONA_PAGE = "05_personas.html"
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--no-pdf-header-footer")
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def combined_html(index_block: str, persona_page: str | None) -> str:
    """Return one HTML document: `index_block` first, then the body of `persona_page`.

    Parameters
    ----------
    index_block : str
        The print version of the index (``index_main.html.j2``: its own scoped style and a
        ``<main class="ix">``).
    persona_page : str or None
        The rendered ``05_personas.html``; None prints the index alone.

    Returns
    -------
    str
        A complete HTML document.

    Examples
    --------
    >>> combined_html("<main>I</main>", "<html><body class='x'><p>P</p></body></html>")
    "<html><body class='x'>\\n<main>I</main>\\n<p>P</p></body></html>"
    >>> combined_html("<main>I</main>", None).count("<main>I</main>")
    1
    """
    opening = _BODY_OPEN.search(persona_page) if persona_page else None
    if opening is None:  # no persona page, or a fragment without <body>: keep it after the index
        body = index_block + (f"\n{persona_page}" if persona_page else "")
        return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Customer segmentation report'
                f"</title></head>\n<body>\n{body}\n</body></html>\n")
    return f"{persona_page[:opening.end()]}\n{index_block}\n{persona_page[opening.end():]}"


def chromium_path() -> str:
    """Return the Chromium executable (``CHROMIUM_PATH``, then ``chromium`` on PATH); UserError if none."""
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).exists():
        raise UserError("Chromium not found; fix: apt-get install chromium (or set CHROMIUM_PATH)")
    return found


def print_pdf(html_file: Path, out: Path, chromium: str | None = None, timeout: float = 180) -> Path:
    """Print `html_file` to the PDF `out` with headless Chromium and return `out`.

    Chromium gets a fresh, temporary profile folder, so it never touches (or waits for) the
    user's browser profile.

    Raises
    ------
    UserError
        Chromium is missing, fails, or writes no PDF (its last output line is quoted).
    """
    executable = chromium or chromium_path()
    with tempfile.TemporaryDirectory(prefix="ecomseg-chromium-") as profile:
        command = [executable, *CHROMIUM_ARGS, f"--user-data-dir={profile}", f"--print-to-pdf={out}",
                   html_file.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise UserError(f"{out}: Chromium did not finish printing within {timeout:.0f} s") from None
    if done.returncode != 0 or not out.is_file() or out.read_bytes()[:4] != b"%PDF":
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise UserError(f"{out}: Chromium wrote no PDF (exit {done.returncode}: "
                        f"{lines[-1] if lines else 'no output'}); fix: check that chromium runs headless")
    return out


def write_pdf(run_dir: str | Path, out: str | Path | None = None, root: str | Path = PROJECT_ROOT,
              chromium: str | None = None) -> Path:
    """Write the run's index and persona pages as one PDF and return its path.

    Parameters
    ----------
    run_dir : str or Path
        A run folder (``reports/latest`` is followed to its run).
    out : str or Path, optional
        The PDF to write; default ``report.pdf`` in the run folder.
    root : str or Path
        Project folder: paths in the index are shown relative to it.
    chromium : str, optional
        Chromium executable; default `chromium_path`.

    Returns
    -------
    Path
        The PDF.

    Raises
    ------
    UserError
        The folder holds no ``manifest.json`` (not a finished run), or printing failed.
    """
    run_dir = Path(run_dir).resolve()
    manifest_file = run_dir / "manifest.json"
    if not manifest_file.is_file():
        raise UserError(f"{run_dir}: no manifest.json, not a finished run; fix: run `make report` first")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    index_block = render("index_main.html.j2", for_print=True, **index_context(manifest, read_personas(run_dir), root))
    persona_file = run_dir / PERSONA_PAGE
    persona_page = persona_file.read_text(encoding="utf-8") if persona_file.is_file() else None
    out = Path(out) if out else run_dir / PDF_FILE
    with tempfile.TemporaryDirectory(prefix="ecomseg-pdf-") as folder:
        page = Path(folder) / "report.html"
        page.write_text(combined_html(index_block, persona_page), encoding="utf-8")
        tmp_out = Path(folder) / PDF_FILE
        print_pdf(page, tmp_out, chromium)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_out, out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``make pdf``); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m helpers.pdf", description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=str(PROJECT_ROOT / "reports" / "latest"), help="run folder (default: reports/latest)")
    parser.add_argument("--out", default="", help=f"PDF to write (default: {PDF_FILE} in the run folder)")
    args = parser.parse_args(argv)
    try:
        out = write_pdf(args.run, args.out or None)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"pdf ready: {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
