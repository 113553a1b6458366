"""Bad-input corpus, issue 12: reading exports (helpers.io). See tests/corpus.py for the Case contract.

Each "ok" case checks the values 01_clean wrote (``transactions.parquet`` keeps the input
order), so a documented handling cannot hide a silent change of the numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from corpus import COLUMNS, HEADER, Case, _csv, _input, _set_field, good_rows
from helpers import catalog

SEMICOLON_COMMA = {"delimiter": ";", "decimal": ","}


def _transactions(params: dict[str, Any]) -> pd.DataFrame:
    """The lines 01_clean wrote, read through the catalog (so their columns are checked)."""
    return catalog.read(params, "transactions")


def _comma_decimal_rows(n: int) -> list[str]:
    """good_rows with ";" between fields and "," before decimals (prices 1,5 to 4,5)."""
    return [r.replace(",", ";").replace(".", ",") for r in good_rows(n=n)]


def _set_price(row: str, price: str) -> str:
    parts = row.split(";")
    parts[5] = price
    return ";".join(parts)


def _stray_dot_values(folder: Path) -> dict[str, Any]:
    rows = _comma_decimal_rows(200)
    rows[7] = _set_price(rows[7], "3.50")  # a decimal point: does not fit ",", invalid
    rows[8] = _set_price(rows[8], "1.234")  # a thousands separator: 1234
    return _input(_csv(folder, rows, header=HEADER.replace(",", ";")), csv=SEMICOLON_COMMA)


def _check_stray_dot_values(folder: Path, params: dict[str, Any]) -> None:
    lines = _transactions(params)
    assert len(lines) == 199  # the "3.50" line removed as invalid_values, never read as 350
    assert lines["unit_price"].iloc[7] == 1234.0  # row 8 of the export, now the 8th kept line
    others = lines["unit_price"].drop(index=7)
    assert set(others) <= {1.5, 2.5, 3.5, 4.5}, sorted(set(others))


def _mostly_dot_values(folder: Path) -> dict[str, Any]:
    rows = [r.replace(",", ";") for r in good_rows()]  # decimals written 1.5, declared ","
    return _input(_csv(folder, rows, header=HEADER.replace(",", ";")), csv=SEMICOLON_COMMA)


def _multiline_description(folder: Path) -> dict[str, Any]:
    rows = good_rows()
    rows[3] = _set_field(rows[3], 2, '"Mug, large\nwith a ""handle"""')
    return _input(_csv(folder, rows))


def _check_multiline_description(folder: Path, params: dict[str, Any]) -> None:
    lines = _transactions(params)
    assert len(lines) == 40  # data records, not physical lines
    assert lines["description"].iloc[3] == 'Mug, large\nwith a "handle"'


def _ten_mb_description(folder: Path) -> dict[str, Any]:
    rows = good_rows()
    rows[5] = _set_field(rows[5], 2, "x" * (10 * 1024 * 1024))
    return _input(_csv(folder, rows))


def _check_ten_mb_description(folder: Path, params: dict[str, Any]) -> None:
    lines = _transactions(params)
    assert len(lines) == 40 and len(lines["description"].iloc[5]) == 10 * 1024 * 1024


def _ids_with_dot_zero(folder: Path) -> dict[str, Any]:
    rows = []
    for r in good_rows():
        customer = r.split(",")[6]
        rows.append(_set_field(r, 6, {"100": "A.0", "101": "101.0"}.get(customer, customer)))
    return _input(_csv(folder, rows))


def _check_ids_with_dot_zero(folder: Path, params: dict[str, Any]) -> None:
    ids = set(_transactions(params)["customer_id"])
    assert {"A.0", "101"} <= ids and not {"A", "101.0"} & ids, sorted(ids)


def _offset_timestamps(folder: Path) -> dict[str, Any]:
    rows = good_rows()
    for i in range(0, len(rows), 2):  # even rows +05:00, odd rows Z
        parts = rows[i].split(",")
        parts[4] = parts[4].replace(" ", "T") + ("+05:00" if i % 4 == 0 else "Z")
        rows[i] = ",".join(parts)
    return _input(_csv(folder, rows))


def _check_offset_timestamps(folder: Path, params: dict[str, Any]) -> None:
    written = pd.to_datetime([r.split(",")[4] for r in good_rows()])
    # +05:00 -> UTC (5 hours earlier); Z and no offset unchanged
    expected = [w - pd.Timedelta(hours=5 if i % 4 == 0 else 0) for i, w in enumerate(written)]
    assert _transactions(params)["invoice_date"].tolist() == expected


def _excel_title_rows(folder: Path) -> dict[str, Any]:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    rows = good_rows()
    for name, part in (("Jan", rows[:20]), ("Feb", rows[20:])):
        sheet = book.create_sheet(name)
        sheet.append([f"Orders {name} 2011"])
        sheet.append(["exported by the shop system"])
        sheet.append(COLUMNS)
        for row in part:
            sheet.append(row.split(","))
    path = folder / "orders.xlsx"
    book.save(path)
    return _input(path, excel={"sheet": "all", "header_row": 3})


def _check_excel_title_rows(folder: Path, params: dict[str, Any]) -> None:
    lines = _transactions(params)
    assert len(lines) == 40 and lines["invoice_id"].tolist() == [r.split(",")[0] for r in good_rows()]
    facts = catalog.read(params, "facts")  # what later steps read instead of the lines
    assert (facts["raw_rows"], facts["rows"], facts["customers"]) == (40, 40, lines["customer_id"].nunique())
    assert (facts["first_date"], facts["last_date"]) == (str(lines["invoice_date"].min()), str(lines["invoice_date"].max()))


def _excel_header_row_past_the_end(folder: Path) -> dict[str, Any]:
    frame = pd.DataFrame([r.split(",") for r in good_rows(n=5)], columns=COLUMNS)
    path = folder / "orders.xlsx"
    frame.to_excel(path, sheet_name="Orders", index=False)
    return _input(path, excel={"sheet": 0, "header_row": 9})


def _unclosed_quote(folder: Path) -> dict[str, Any]:
    rows = good_rows()
    rows[10] = _set_field(rows[10], 2, '"Mug')
    return _input(_csv(folder, rows))


CASES: tuple[Case, ...] = (
    Case("decimal_comma_with_stray_dot_values", _stray_dot_values, ("ok", "invalid_values"),
         check=_check_stray_dot_values, notes="3.50 does not fit decimal ','; 1.234 is 1234 (thousands)"),
    Case("decimal_comma_with_mostly_dot_values", _mostly_dot_values, ("error", 'set input.csv.decimal to "."')),
    Case("multiline_quoted_description", _multiline_description, ("ok", None), check=_check_multiline_description,
         notes="RFC 4180: quoted delimiter, line break and doubled quote"),
    Case("ten_mb_text_field", _ten_mb_description, ("ok", None), check=_check_ten_mb_description,
         notes="under the default input.csv.max_line_size (16 MB)"),
    Case("ids_with_dot_zero", _ids_with_dot_zero, ("ok", None), check=_check_ids_with_dot_zero,
         notes="only integral numbers lose .0"),
    Case("timestamps_with_offsets", _offset_timestamps, ("ok", None), check=_check_offset_timestamps,
         notes="offsets converted to UTC, values without one kept"),
    Case("excel_title_rows_above_header", _excel_title_rows, ("ok", None), check=_check_excel_title_rows,
         notes="input.excel.header_row: 3 on every sheet"),
    Case("excel_header_row_past_the_end", _excel_header_row_past_the_end,
         ("error", "input.excel.header_row is 9 but sheet 'Orders' has only 6 rows")),
    Case("csv_quote_never_closed", _unclosed_quote, ("error", "line 12 opens a quote")),
)
