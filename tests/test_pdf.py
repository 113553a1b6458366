"""make pdf: the index and persona pages of a run as one PDF, printed by Debian's Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers.errors import UserError
from helpers.pdf import combined_html, print_pdf, write_pdf
from test_run_history import make_manifest, persona_csv_rows, write_run

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
PERSONA_PAGE = ('<!DOCTYPE html><html><head><title>05</title></head>\n<body class="jp-Notebook">'
                '<main><h1>Personas, actions and exports</h1><p>Persona cards here</p></main></body></html>')


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}; fix: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def test_combined_html_puts_the_index_before_the_persona_page():
    page = combined_html('<main class="ix">INDEX</main>', PERSONA_PAGE)
    assert page.index('<body class="jp-Notebook">') < page.index("INDEX") < page.index("Persona cards here")
    assert page.count("<body") == 1 and page.count("</html>") == 1
    alone = combined_html('<main class="ix">INDEX</main>', None)
    assert alone.startswith("<!DOCTYPE html>") and "INDEX" in alone and "Persona cards" not in alone
    fragment = combined_html('<main class="ix">INDEX</main>', "<p>Persona cards here</p>")
    assert fragment.index("INDEX") < fragment.index("Persona cards here")  # never dropped


def test_write_pdf_prints_index_and_persona_page_to_one_pdf(tmp_path, chromium):
    run_dir = write_run(tmp_path / "reports", make_manifest(tmp_path, "20261127-080000"), persona_csv_rows())
    (run_dir / "05_personas.html").write_text(PERSONA_PAGE, encoding="utf-8")
    (tmp_path / "reports" / "latest").symlink_to("20261127-080000")
    out = write_pdf(tmp_path / "reports" / "latest", root=tmp_path, chromium=chromium)
    assert out == run_dir / "report.pdf"  # in the run folder, not beside the symlink
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5_000
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []  # no profile or temporary file left


def test_write_pdf_of_a_folder_without_a_manifest_names_the_fix(tmp_path):
    with pytest.raises(UserError, match="no manifest.json.*make report"):
        write_pdf(tmp_path, chromium="/bin/true")


def test_print_pdf_reports_a_chromium_that_writes_nothing(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>", encoding="utf-8")
    with pytest.raises(UserError, match="Chromium wrote no PDF"):
        print_pdf(page, tmp_path / "out.pdf", chromium="/bin/true")
    assert not (tmp_path / "out.pdf").exists()
