"""A CSV is sniffed once: the view ``source`` reads with the sniffed options written out."""

from __future__ import annotations

import gzip

import pytest

from helpers.readers import register_source

CSV = {"delimiter": "auto", "encoding": "utf-8", "decimal": ".", "header_rows_to_skip": 0,
       "max_line_size": 16_000_000, "header": True}

DIALECTS = {
    "comma": 'id,name,amount\n1,"Smith, J",2.50\n2,"say ""hi""",3\n',
    "semicolon_crlf": "id;name;amount\r\n1;a;2,50\r\n2;b;3\r\n",
    "tab_short_row": "id\tname\tamount\n1\ta\t2.5\n2\tb\n",
    "pipe_quoted_newline": 'id|name|amount\n1|"two\nlines"|2.5\n2|b|3\n',
    "title_rows": "Shop export\nid,name,amount\n1,a,2.5\n",
}


def _params(path, **csv):
    return {"path": str(path), "format": "auto", "csv": {**CSV, **csv}}


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_the_view_reads_the_rows_detection_would_without_sniffing_again(con, tmp_path, name):
    path = tmp_path / f"{name}.csv.gz"
    path.write_bytes(gzip.compress(DIALECTS[name].encode()))
    skip = 1 if name == "title_rows" else 0
    padding = "false" if "newline" in name else "true"  # DuckDB cannot pad short rows beside a quoted line break
    columns = register_source(con, _params(path, header_rows_to_skip=skip))
    view = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'source'").fetchone()[0]
    assert "auto_detect = false" in view  # no sniffing when a later query names the view
    rows = con.execute("SELECT * FROM source").fetchall()
    detected = con.execute(
        f"SELECT * FROM read_csv('{path}', all_varchar = true, skip = {skip}, quote = '\"', null_padding = {padding})"
    )
    assert columns == [d[0] for d in detected.description] == ["id", "name", "amount"]
    assert rows == detected.fetchall()


def test_a_header_with_odd_names_is_kept_as_written(con, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Customer's ID,Amount (£),,Amount (£)\n1,2.5,x,3\n", encoding="utf-8")
    assert register_source(con, _params(path)) == ["Customer's ID", "Amount (£)", "column2", "Amount (£)_1"]
    assert con.execute("SELECT * FROM source").fetchall() == [("1", "2.5", "x", "3")]
