"""With ``privacy.pseudonymize_ids: true`` no raw customer id reaches the run folder.

A small shop whose customer ids are distinctive strings (``CUST-7Q3X-0001`` ...: a grep
for ``7Q3X`` cannot match anything else) goes through the whole report with a literal salt.
Then every file under ``reports/<run>/`` is read as bytes (HTML, executed notebooks, logs,
metrics, manifest, params, the exports) and must hold neither a raw id nor the salt. The
analyst's working data (``data/interim``, ``data/processed``) keep raw ids by design and are
not part of the run folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import write_params
from helpers.exports import pseudonymize_ids
from helpers.runner import run_report

pytestmark = pytest.mark.slow

MARKER = "7Q3X"  # in every raw id, nowhere else
SALT = "pepper-Zq8PwX3v"
WHALE = f"CUST-{MARKER}-0007"  # the customer of the one extreme line


def customer_id(number: int) -> str:
    return f"CUST-{MARKER}-{number:04d}"


def write_shop(path: Path, customers: int = 60, seed: int = 3) -> Path:
    """Write a CSV export: a few orders per customer, one cancellation, one extreme line."""
    rng = np.random.default_rng(seed)
    rows, invoice = [], 700000
    for c in range(1, customers + 1):
        for _ in range(int(rng.integers(1, 5))):
            invoice += 1
            day = pd.Timestamp("2011-01-03") + pd.Timedelta(days=int(rng.integers(0, 150)), hours=10)
            for line in range(int(rng.integers(1, 4))):
                rows.append((str(invoice), f"P{line + int(rng.integers(0, 9))}", f"Item {line}",
                             int(rng.integers(1, 8)), f"{day:%Y-%m-%d %H:%M:%S}",
                             round(float(rng.uniform(1, 25)), 2), customer_id(c),
                             ["United Kingdom", "France"][c % 2]))
    first = rows[0]
    rows.append(("C" + first[0], first[1], first[2], -first[3], first[4], first[5], first[6], first[7]))
    rows.append(("799999", "P1", "Item 1", 5000, "2011-04-01 10:00:00", 40.0, WHALE, "France"))
    frame = pd.DataFrame(rows, columns=["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                                        "UnitPrice", "CustomerID", "Country"])
    frame.to_csv(path, index=False)
    return path


def files_containing(folder: Path, text: str) -> list[str]:
    """Return the files under `folder` (relative paths) whose bytes contain `text`."""
    needle = text.encode("utf-8")
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes())


def test_pseudonymised_run_folder_holds_no_raw_id_and_no_salt(tmp_path, workdirs):
    export = write_shop(tmp_path / "shop.csv")
    params_file = write_params(tmp_path / "params.yaml", {
        "input": {"path": str(export)}, "paths": workdirs,
        "privacy": {"pseudonymize_ids": True, "salt": SALT},
    })
    run_dir = run_report(str(params_file))
    names = {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}
    for expected in ("manifest.json", "params.yaml", "index.html", "segments.csv", "personas.csv",
                     "01_clean.ipynb", "01_clean.html", "05_personas.html", "metrics/01_clean.json"):
        assert expected in names, f"{expected} not in the run folder: {sorted(names)}"
    assert any(name.startswith("logs/") for name in names)
    assert files_containing(run_dir, MARKER) == []
    assert files_containing(run_dir, SALT) == []
    # The extreme line on 01's page names its customer by the pseudonym of segments.csv.
    segments = pd.read_csv(run_dir / "segments.csv", dtype={"customer_id": str})
    whale = pseudonymize_ids(pd.Series([WHALE]), SALT).iloc[0]
    assert whale in set(segments["customer_id"])
    assert whale in (run_dir / "01_clean.html").read_text(encoding="utf-8")


def test_without_pseudonyms_the_same_grep_finds_the_raw_ids(tmp_path, workdirs):
    # The control: the check above would see a raw id if one were shown.
    export = write_shop(tmp_path / "shop.csv")
    params_file = write_params(tmp_path / "params.yaml", {"input": {"path": str(export)}, "paths": workdirs})
    run_dir = run_report(str(params_file), notebooks=("01_clean",))
    assert "01_clean.html" in files_containing(run_dir, WHALE)


def test_failed_pseudonymised_run_keeps_no_raw_id_in_its_folder(tmp_path, workdirs):
    from helpers.runner import StepFailed

    export = write_shop(tmp_path / "shop.csv", customers=6)
    params_file = write_params(tmp_path / "params.yaml", {  # K=5 for 7 customers: 04 fails after 01 and 03
        "input": {"path": str(export)}, "paths": workdirs, "clustering": {"k": 5},
        "privacy": {"pseudonymize_ids": True, "salt": SALT},
    })
    with pytest.raises(StepFailed, match="04_clustering"):
        run_report(str(params_file), notebooks=("01_clean", "03_rfm", "04_clustering"))
    failed = next(Path(workdirs["reports_dir"]).glob("*.failed"))
    assert (failed / "01_clean.html").is_file() and not (failed / "data").exists()
    assert files_containing(failed, MARKER) == []
