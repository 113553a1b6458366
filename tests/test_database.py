"""Orders from PostgreSQL (input.database) and segments back into it (output.database).

One throwaway server for the whole file (`pg_server.postgres`): the first 3,000 lines of
the shipped export as ``shop.orders`` under other column names. Fast tests compare what
01_clean reads and keeps from the database with the same lines read from a CSV, check a
hand-worked table (time zones, numeric types, the date window), every one-line error, the
params checks and the transaction of the output tables. The slow test runs the whole
report from the database and from the CSV: segments.csv is byte-identical.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import write_params
from helpers import clean, database_server, io
from helpers.config import load_params
from helpers.database import connect_error, redact_url, resolve_url
from helpers.database_output import OutputWriteError, stage_outputs
from helpers.database_server import PASSWORD_USER, free_port
from helpers.engine import EngineSettings, connect
from helpers.errors import UserError
from helpers.preflight import check_inputs
from helpers.runner import _public_params
from pg_server import PASSWORD, SAMPLE_MAPPING, SLICE_ROWS, postgres  # noqa: F401 - the fixture

# A table worked by hand: time zones to UTC, numeric to numbers, ids to text, the window.
TINY_TABLE = (
    "CREATE TABLE tiny (ref text, client bigint, placed timestamptz, units int, price numeric(10,2), "
    "sku text, label text, market text, paid money, day_no int)",
    "INSERT INTO tiny VALUES "
    "('1001', 100, '2011-01-03 10:00:00+02', 2, 5.50, 'A1', 'Mug', 'UK', 11, 1), "
    "('1002', 200, '2011-02-10 09:30:00+00', 1, 20.00, 'B2', 'Bowl', 'France', 20, 2), "
    "('C1003', 100, '2011-02-11 12:00:00-05', -1, 5.50, 'A1', 'Mug', 'UK', -5.5, 3), "
    "('1004', NULL, '2011-03-01 08:00:00+00', 3, 0.00, 'B2', ' Bowl ', 'France', 0, 4)",
)
TINY_MAPPING = {"customer_id": "client", "invoice_id": "ref", "invoice_date": "placed", "quantity": "units",
                "unit_price": "price", "amount": None, "product_id": "sku", "description": "label", "country": "market"}


def db_params(tmp_path: Path, url: str, mapping: dict[str, Any] = SAMPLE_MAPPING, **database: Any) -> dict[str, Any]:
    """Load the params of a run that reads `database` (table orders by default) at `url`."""
    block = {"url": url, "table": "orders", **database}
    return load_params(write_params(tmp_path / "db.yaml", {"input": {"database": block, "columns": mapping}}))


def read(input_params: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    con = connect(EngineSettings())
    source = io.load_transactions(con, input_params)
    return source, con.execute("SELECT * FROM canonical ORDER BY row_id").df()


@pytest.fixture(scope="module")
def tiny(postgres):  # noqa: F811 - the fixture
    postgres.execute(*TINY_TABLE)
    yield postgres
    postgres.execute("DROP TABLE tiny")


# ----------------------------------------------------------------------------- reading


def test_rows_from_the_database_equal_the_same_rows_from_csv_through_cleaning(postgres, tmp_path):  # noqa: F811
    csv_params = load_params(write_params(tmp_path / "csv.yaml", {"input": {"path": str(postgres.slice_csv)}}))
    database_params = db_params(tmp_path, postgres.url)
    results = []
    for params in (csv_params, database_params):
        con = connect(EngineSettings())
        source = io.load_transactions(con, params["input"])
        log = clean.apply_cleaning(con, params["cleaning"])
        kept = con.execute("SELECT * FROM cleaned").df()
        results.append((source, con.execute("SELECT * FROM canonical").df(), log, kept))
    (csv_source, csv_lines, csv_log, csv_kept), (db_source, db_lines, db_log, db_kept) = results
    assert csv_source["rows"] == db_source["rows"] == SLICE_ROWS
    assert db_source["file"] == "database table orders" and db_source["columns"][:2] == ["order_no", "sku"]
    pd.testing.assert_frame_equal(csv_lines, db_lines)
    pd.testing.assert_frame_equal(csv_log, db_log)
    pd.testing.assert_frame_equal(csv_kept, db_kept)
    assert len(db_kept) < SLICE_ROWS  # the cleaning rules did remove lines: the comparison means something


def test_a_hand_worked_table_converts_zones_numbers_and_ids(tiny, tmp_path):
    _, lines = read(db_params(tmp_path, tiny.url, TINY_MAPPING, table="tiny")["input"])
    assert lines["customer_id"].tolist()[:3] == ["100", "200", "100"] and pd.isna(lines["customer_id"][3])
    assert lines["invoice_date"].astype(str).tolist() == [
        "2011-01-03 08:00:00", "2011-02-10 09:30:00", "2011-02-11 17:00:00", "2011-03-01 08:00:00"]  # UTC
    assert lines["amount"].tolist() == [11.0, 20.0, -5.5, 0.0]  # units x numeric(10,2) price
    assert lines["description"].tolist() == ["Mug", "Bowl", "Mug", "Bowl"]  # trimmed as in a file


def test_the_date_window_is_applied_by_the_server(tiny, tmp_path):
    params = db_params(tmp_path, tiny.url, TINY_MAPPING, table="tiny", since="2011-02-01", until="2011-03-01")
    source, lines = read(params["input"])
    assert source["rows"] == 2 and lines["invoice_id"].tolist() == ["1002", "C1003"]  # 1004 is at 2011-03-01 08:00


def test_a_query_can_replace_the_table_and_order_the_rows(tiny, tmp_path):
    query = "SELECT * FROM tiny WHERE client IS NOT NULL ORDER BY ref DESC;"
    _, lines = read(db_params(tmp_path, tiny.url, TINY_MAPPING, table=None, query=query)["input"])
    assert lines["invoice_id"].tolist() == ["C1003", "1002", "1001"]


def test_the_preflight_reads_the_database_before_any_step(postgres, tmp_path):  # noqa: F811
    params = db_params(tmp_path, postgres.url)
    assert check_inputs(params, ["01_clean"]) == ["input.database"]
    params["input"]["columns"]["customer_id"] = "customer_no"
    with pytest.raises(UserError, match=r"^database table orders: column 'customer_no' \(mapped to customer_id\) "
                                        r"not found; fix: set input.columns.customer_id .*did you mean 'customer'"):
        check_inputs(params, ["01_clean"])


# ------------------------------------------------------------------------------ errors

ERRORS = [
    ("unreachable", {"port": "free"}, r"^input\.database\.url: cannot reach the database server \(.*refused.*\); "
                                      r"fix: start the server, or correct the host and port"),
    ("bad password", {"user": f"{PASSWORD_USER}:wrong-password"},
     r"^input\.database\.url: the server refused the user name or password \(.*password authentication failed.*\); "
     r"fix: correct the user and password"),
    ("unknown database", {"database": "shopp"}, r"^input\.database\.url: the server has no such database .*; fix: correct "
                                                r"the database name"),
    ("unknown table", {"table": "order"}, r"^database table order: table not found \(relation \"order\" does not exist\); "
                                          r"fix: set input.database.table to an existing table \(did you mean 'public.orders'\?\)"),
    ("invalid SQL", {"table": None, "query": "SELEC * FROM orders"}, r"^database query \(input.database.query\): not valid "
                                                                     r"SQL \(syntax error at or near \"SELEC\"\); fix: correct"),
    ("no rows", {"table": None, "query": "SELECT * FROM orders WHERE qty > 1000000"},
     r"^database query \(input.database.query\): the query returns no rows; fix: point input.database.table or query"),
    ("no rows in window", {"since": "2030-01-01"}, r"^database table orders: no rows within input\.database\.since "
                                                   r"2030-01-01; fix: widen input\.database\.since/until"),
    ("failing query", {"table": None, "query": "SELECT *, 1 / (qty - qty) AS boom FROM orders"},
     r"^database query \(input.database.query\): cannot run the query \(division by zero\); fix: check"),
    ("writing query", {"table": None, "query": "DELETE FROM orders RETURNING *"},
     r"the query tries to change data, and the session is read-only.*; fix: write input.database.query as a SELECT"),
]


@pytest.mark.parametrize(("case", "change", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_each_failure_is_one_line_naming_the_fix(postgres, tmp_path, case, change, message):  # noqa: F811
    change = dict(change)
    url = postgres.url
    if change.pop("port", None):
        url = url.replace(f":{postgres.server.port}/", f":{free_port()}/")
    if "user" in change:
        url = url.replace("//postgres@", f"//{change.pop('user')}@")
    if "database" in change:
        url = url.rsplit("/", 1)[0] + "/" + change.pop("database")
    with pytest.raises(UserError, match=message) as raised:
        read(db_params(tmp_path, url, **change)["input"])
    assert "\n" not in str(raised.value) and "wrong-password" not in str(raised.value)
    assert postgres.execute("SELECT count(*) FROM orders") == [(SLICE_ROWS,)]  # the writing query changed nothing


def test_the_right_password_logs_in(postgres, tmp_path):  # noqa: F811
    url = postgres.url.replace("//postgres@", f"//{PASSWORD_USER}:{PASSWORD}@")
    assert read(db_params(tmp_path, url)["input"])[0]["rows"] == SLICE_ROWS


@pytest.mark.parametrize(("column", "field", "pg_type", "wanted"), [
    ("paid", "amount", "money", "a numeric or float column"),  # money arrives in cents: never read silently
    ("day_no", "invoice_date", "int4", "a timestamp, date or text column"),
])
def test_a_mapped_column_of_the_wrong_type_names_type_and_fix(tiny, tmp_path, column, field, pg_type, wanted):
    mapping = {**TINY_MAPPING, field: column}
    with pytest.raises(UserError, match=rf"^database table tiny: column '{column}' \(mapped to {field}\) is of type "
                                        rf"{pg_type}; fix: map input\.columns\.{field} to {wanted}"):
        read(db_params(tmp_path, tiny.url, mapping, table="tiny")["input"])


def test_the_window_needs_a_date_column(tiny, tmp_path):
    mapping = {**TINY_MAPPING, "invoice_date": "label", "description": None}
    with pytest.raises(UserError, match=r"since/until need a timestamp or date column, but 'label' .* is text"):
        read(db_params(tmp_path, tiny.url, mapping, table="tiny", since="2011-01-01")["input"])


# ------------------------------------------------------------------- params and secrets

PARAMS_PROBLEMS = [
    ({"url": "mysql://shop@db/shop"}, r"key 'input\.database\.url': scheme 'mysql' is not postgresql"),
    ({"url": "env:ECOMSEG_TEST_UNSET_URL"}, r"reads the environment variable 'ECOMSEG_TEST_UNSET_URL', which is not set"),
    ({"query": "SELECT 1"}, r"'input\.database\.table' and 'input\.database\.query' are both set; fix: keep one"),
    ({"table": None}, r"neither input\.database\.table nor input\.database\.query"),
    ({"since": "2011-12-01", "until": "2011-01-01"}, r"'input\.database\.until' \(2011-01-01\) must be after"),
    ({"since": "first of May"}, r"key 'input\.database\.since': 'first of May' is not a date"),
    ({"url": None}, r"key 'input\.database\.table' is set but input\.database\.url is null"),
]


@pytest.mark.parametrize(("database", "message"), PARAMS_PROBLEMS, ids=[p[1][:40] for p in PARAMS_PROBLEMS])
def test_params_problems_are_found_before_connecting(tmp_path, database, message):
    tree = {"input": {"database": {"url": "postgresql://shop@127.0.0.1:1/shop", "table": "orders", **database}}}
    with pytest.raises(UserError, match=message):
        load_params(write_params(tmp_path / "p.yaml", tree))


def test_a_database_source_needs_no_input_file_and_is_read_for_transactions_only(tmp_path):
    tree = {"input": {"path": "missing.csv", "database": {"url": "postgresql://db/shop", "table": "orders"}}}
    assert load_params(write_params(tmp_path / "p.yaml", tree))["input"]["database"]["table"] == "orders"
    tree["input"]["level"] = "customers"
    with pytest.raises(UserError, match=r"key 'input\.database\.url' reads order lines, but input\.level is 'customers'"):
        load_params(write_params(tmp_path / "p.yaml", tree))


def test_an_env_url_is_read_from_the_environment_and_never_shown(monkeypatch):
    monkeypatch.setenv("ECOMSEG_TEST_URL", "postgresql://shop:s3cret@db:5432/shop")
    assert resolve_url("env:ECOMSEG_TEST_URL", "input.database.url") == "postgresql://shop:s3cret@db:5432/shop"
    monkeypatch.setenv("ECOMSEG_TEST_URL", "mysql://shop:s3cret@db/shop")
    with pytest.raises(UserError) as raised:
        resolve_url("env:ECOMSEG_TEST_URL", "input.database.url")
    assert "s3cret" not in str(raised.value) and "ECOMSEG_TEST_URL" in str(raised.value)


def test_a_driver_message_quoting_the_url_loses_the_password():
    url = "postgresql://shop:s3cret@db:5432/shop"
    exc = Exception(f'IO: [libpq] Failed to connect: missing "=" after "{url}" in connection info string')
    text = str(connect_error(exc, "input.database.url", url))
    assert "s3cret" not in text and "shop:<redacted>@db" in text and text.startswith("input.database.url: not a ")


def test_the_run_params_keep_env_names_and_redact_literal_passwords(tmp_path):
    tree = {"input": {"database": {"url": "postgresql://shop:s3cret@db:5432/shop", "table": "orders"}},
            "output": {"database": {"url": "env:ECOMSEG_TEST_OUT"}}}
    params = {**tree, "privacy": {"salt": ""}}
    public = _public_params(params)
    assert public["input"]["database"]["url"] == "postgresql://shop:<redacted>@db:5432/shop"
    assert public["output"]["database"]["url"] == "env:ECOMSEG_TEST_OUT"
    assert params["input"]["database"]["url"].endswith("s3cret@db:5432/shop")  # the run itself still connects
    assert redact_url("postgresql://db/shop?password=x&sslmode=require") == (
        "postgresql://db/shop?password=%3Credacted%3E&sslmode=require")


# --------------------------------------------------------------------------- output

SEGMENTS_V1 = "customer_id,recency_days,frequency,monetary,persona\n12346,,0,0.00,NA\n'=x,3,7,4310.10,Loyal\n"
SEGMENTS_V2 = "customer_id,recency_days,frequency,monetary,persona\n99,1,1,1.00,New\n"
PERSONAS = "persona,cluster,customers,customer_share\nLoyal,0,1,0.5000\nNA,-2,1,0.5000\n"


def run_folder(folder: Path, segments: str, personas: str = PERSONAS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "segments.csv").write_text(segments, encoding="utf-8")
    (folder / "personas.csv").write_text(personas, encoding="utf-8")
    return folder


def output_params(url: str, mode: str = "replace", table: str = "segments_out",
                  personas_table: str = "personas_out") -> dict[str, Any]:
    return {"output": {"database": {"url": url, "table": table, "personas_table": personas_table, "mode": mode}}}


def test_segments_are_written_typed_and_only_on_commit(postgres, tmp_path):  # noqa: F811
    pending = stage_outputs(output_params(postgres.url), run_folder(tmp_path / "v1", SEGMENTS_V1))
    assert postgres.execute("SELECT to_regclass('segments_out')") == [(None,)]  # not visible before the commit
    assert pending.commit() == "output.database: 2 rows written to segments_out, 2 rows written to personas_out"
    rows = postgres.execute("SELECT customer_id, recency_days, frequency, monetary::text, persona "
                            "FROM segments_out ORDER BY frequency")
    assert rows == [("12346", None, 0, "0.00", "NA"), ("'=x", 3, 7, "4310.10", "Loyal")]  # as written in the file
    assert postgres.execute("SELECT sum(customers)::int, max(customer_share)::text FROM personas_out") == [(2, "0.5000")]


def test_a_rolled_back_or_failed_write_leaves_the_previous_tables(postgres, tmp_path):  # noqa: F811
    stage_outputs(output_params(postgres.url), run_folder(tmp_path / "v1", SEGMENTS_V1)).commit()
    stage_outputs(output_params(postgres.url), run_folder(tmp_path / "v2", SEGMENTS_V2)).rollback()
    postgres.execute("CREATE TABLE IF NOT EXISTS other_out (customer_id text)")
    with pytest.raises(OutputWriteError, match=r"table other_out has the columns \(customer_id\), segments\.csv has "
                                               r"\(customer_id, recency_days, .*\); fix: set output\.database\.mode: replace"):
        stage_outputs(output_params(postgres.url, "append", "other_out"), run_folder(tmp_path / "v2", SEGMENTS_V2))
    assert postgres.execute("SELECT count(*) FROM segments_out") == [(2,)]
    assert postgres.execute("SELECT count(*) FROM other_out") == [(0,)]


def test_append_adds_the_rows_of_the_next_run(postgres, tmp_path):  # noqa: F811
    stage_outputs(output_params(postgres.url), run_folder(tmp_path / "v1", SEGMENTS_V1)).commit()
    stage_outputs(output_params(postgres.url, "append"), run_folder(tmp_path / "v2", SEGMENTS_V2)).commit()
    assert postgres.execute("SELECT customer_id FROM segments_out ORDER BY customer_id") == [("'=x",), ("12346",), ("99",)]


def test_an_unreachable_output_server_is_one_line(tmp_path):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/shop"
    with pytest.raises(OutputWriteError, match=r"^output\.database\.url: cannot reach the database server"):
        stage_outputs(output_params(url), run_folder(tmp_path / "v1", SEGMENTS_V1))


def test_stop_never_deletes_a_folder_the_server_helper_did_not_make(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert database_server.main(["stop", "--folder", str(tmp_path)]) == 0
    assert (tmp_path / "keep.txt").is_file() and capsys.readouterr().out.strip() == "no server was running"


def test_load_sample_needs_a_url(capsys):
    assert database_server.main(["load-sample"]) == 1
    assert capsys.readouterr().err.strip() == ("error: load-sample needs --url; fix: add --url "
                                                "postgresql://postgres@127.0.0.1:54329/shop")


# ------------------------------------------------------------------------ end to end


# Fewer K and resamples than the defaults: both runs use them, so the comparison holds, in half the time.
FAST_CLUSTERING = {"k_max": 5, "n_init": 3, "bootstrap_resamples": 5}


@pytest.mark.slow
def test_the_report_from_the_database_equals_the_report_from_the_csv(postgres, tmp_path, monkeypatch):  # noqa: F811
    from helpers.runner import run_report

    monkeypatch.setenv("ECOMSEG_TEST_SHOP_URL", postgres.url)
    secret_url = postgres.url.replace("//postgres@", f"//{PASSWORD_USER}:{PASSWORD}@")
    postgres.execute(f"GRANT CREATE ON SCHEMA public TO {PASSWORD_USER}")
    runs = {}
    for name, source in (("csv", {"path": str(postgres.slice_csv)}),
                         ("db", {"database": {"url": "env:ECOMSEG_TEST_SHOP_URL", "table": "orders"},
                                 "columns": SAMPLE_MAPPING})):
        paths = {k: str(tmp_path / name / k) for k in ("interim_dir", "processed_dir", "reports_dir")}
        output = output_params(secret_url, table="shop_segments", personas_table="shop_personas") if name == "db" else {}
        tree = {"input": source, "paths": paths, "clustering": FAST_CLUSTERING, **output}
        runs[name] = run_report(str(write_params(tmp_path / f"{name}.yaml", tree)))
    for export in ("segments.csv", "personas.csv"):
        assert (runs["db"] / export).read_bytes() == (runs["csv"] / export).read_bytes(), export
    segments = pd.read_csv(runs["db"] / "segments.csv", dtype={"customer_id": str})
    assert postgres.execute("SELECT count(*), sum(frequency)::bigint FROM shop_segments") == [
        (len(segments), int(segments["frequency"].sum()))]
    manifest = json.loads((runs["db"] / "manifest.json").read_text())
    assert manifest["input"]["path"] == "database table orders" and manifest["database_output"]["rows"]
    for page in [runs["db"] / "manifest.json", runs["db"] / "params.yaml", *runs["db"].glob("*.html"),
                 *runs["db"].glob("*.ipynb"), *(runs["db"] / "logs").glob("*")]:
        text = page.read_text()
        assert PASSWORD not in text and postgres.url not in text, page.name
