"""Read order lines straight from a shop's PostgreSQL database (``input.database``).

With ``input.database.url`` set, 01_clean (and the preflight) read the rows of
``input.database.table`` or of ``input.database.query`` instead of the file ``input.path``;
everything after the view ``source`` is the same as for a file: ``input.columns`` maps the
columns, `helpers.io` types them, the cleaning rules and checks run unchanged.

- **Streaming.** The ADBC PostgreSQL driver runs the query as ``COPY ... TO STDOUT`` and
  hands Arrow record batches (about 16 MB each) to DuckDB, which stages them within
  ``run.memory_limit`` like a CSV (`register_database_source`). Nothing holds all rows.
- **Date window.** ``input.database.since`` / ``until`` (dates; either may be null) become
  ``WHERE <invoice_date column> >= since AND < until`` in the query the server runs, so
  lines outside are never sent. The column must be a ``timestamp``, ``timestamptz`` or
  ``date``. The session runs in UTC, so the bounds are UTC midnights, like the timestamps
  01_clean converts. The bounds are written into the SQL as ``DATE 'YYYY-MM-DD'`` built
  from a parsed date, not passed as parameters: ``COPY`` cannot take parameters.
- **Types.** Typed columns are read as typed (numbers as numbers, timestamps as
  timestamps; ``input.csv.decimal`` and ``input.date_format`` apply to text columns only).
  ``numeric(p,s)`` becomes ``DECIMAL(p,s)`` (``DOUBLE`` above 38 digits or without a
  precision); a mapped column of a type that cannot hold its field (``money``, which the
  driver sends in cents, a ``boolean`` quantity, an ``integer`` date) stops with the column,
  its type and the fix (`FIELD_KINDS`).
- **Read only.** The session is read-only (``default_transaction_read_only``): a query that
  would change data fails. Rows come in the order the server returns them; put an
  ``ORDER BY`` in ``input.database.query`` for a fixed order.
- **Secrets.** ``url`` may be ``env:NAME``: the URL is read from that environment variable
  and never written anywhere. A literal URL's password is redacted in the run's params and
  manifest (`redact_url`, called by the runner as for ``privacy.salt``). Messages name the
  key and the host, never the password.

Every failure is one `UserError` line naming the key and the fix: server unreachable, login
refused, unknown database, table or column, a query that is not valid or returns no rows,
a mapped column of the wrong type (`CONNECT_PROBLEMS`, `QUERY_PROBLEMS`, `FIELD_KINDS`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import duckdb

from helpers.engine import quote_identifier
from helpers.errors import UserError

DATABASE_FORMAT = "database"  # what `source_of` returns as the format of a database source
URL_SCHEMES = ("postgresql", "postgres")
ENV_PREFIX = "env:"
REDACTED = "<redacted>"
# Params keys that hold a connection URL (redacted in the run's params and manifest).
URL_KEYS: tuple[tuple[str, str, str], ...] = (("input", "database", "url"), ("output", "database", "url"))
STREAM_NAME = "database_rows"  # the Arrow stream registered in DuckDB; the view ``source`` reads it
_SOURCE_VIEW_SQL = "CREATE OR REPLACE VIEW source AS SELECT {columns} FROM " + STREAM_NAME
_SESSION_SQL = ("SET TIME ZONE 'UTC'", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
_TABLES_SQL = ("SELECT table_schema || '.' || table_name FROM information_schema.tables "
               "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")
_MAX_DECIMAL_DIGITS = 38  # DuckDB's widest DECIMAL

# The kind of each PostgreSQL type the driver reports (field metadata ``POSTGRESQL:type``).
# Other types count as text when the driver sends text (enums, domains over text).
PG_TYPE_KINDS: dict[str, str] = {
    **dict.fromkeys(("text", "varchar", "bpchar", "name", "citext"), "text"),
    **dict.fromkeys(("int2", "int4", "int8"), "integer"),
    "numeric": "decimal", "float4": "float", "float8": "float",
    "timestamp": "timestamp", "timestamptz": "timestamp", "date": "date",
    "uuid": "uuid", "money": "money", "bool": "boolean", "bytea": "binary",
}
_ID = ("text", "integer", "decimal", "uuid")
_NUMBER = ("text", "integer", "decimal", "float")
# Field -> (kinds a mapped column may have, what to map instead). Rules as data.
FIELD_KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "customer_id": (_ID, "a text, integer or uuid column"),
    "invoice_id": (_ID, "a text, integer or uuid column"),
    "product_id": (_ID, "a text, integer or uuid column"),
    "invoice_date": (("text", "timestamp", "date"), "a timestamp, date or text column"),
    "quantity": (_NUMBER, "an integer, numeric or float column"),
    "unit_price": (_NUMBER, "a numeric or float column (money: cast it to numeric in input.database.query)"),
    "amount": (_NUMBER, "a numeric or float column (money: cast it to numeric in input.database.query)"),
    "description": (("text", "integer"), "a text column"),
    "country": (("text", "integer"), "a text column"),
}
WINDOW_KINDS = ("timestamp", "date")  # what input.columns.invoice_date must be for since/until

# Connection failures: (pattern in the driver's message, what happened, fix). First match wins.
CONNECT_PROBLEMS: tuple[tuple[str, str, str], ...] = (
    (r"password authentication failed|no password supplied",
     "the server refused the user name or password", "correct the user and password in {key}"),
    (r'role "[^"]*" does not exist', "the server has no such user", "correct the user name in {key}"),
    (r'database "[^"]*" does not exist', "the server has no such database",
     "correct the database name (after the last /) in {key}"),
    (r"no pg_hba\.conf entry", "the server does not accept this user from this machine",
     "ask the database administrator for access (pg_hba.conf), or use another user in {key}"),
    (r"Connection refused|could not translate host name|timeout expired|No route to host|No such file or directory",
     "cannot reach the database server", "start the server, or correct the host and port in {key}"),
    (r"missing \"=\"|invalid URI|invalid connection option|invalid integer value",
     "not a PostgreSQL connection URL", "write {key} like postgresql://user:password@host:5432/dbname"),
)
# Query failures by SQLSTATE: (what happened, fix). {source}: the table or query key; {tables}: known tables.
QUERY_PROBLEMS: dict[str, tuple[str, str]] = {
    "42P01": ("table not found", "set input.database.table to an existing table{tables}"),
    "3F000": ("schema not found", "set input.database.table to an existing schema.table{tables}"),
    "42703": ("a column the query names does not exist", "correct {source}"),
    "42601": ("not valid SQL", "correct input.database.query"),
    "42501": ("permission denied", "grant the user SELECT on the table (GRANT SELECT ON ... TO user), or use another user"),
    "25006": ("the query tries to change data, and the session is read-only", "write input.database.query as a SELECT"),
    "57014": ("the query was cancelled (statement timeout)", "raise the server's statement_timeout, or narrow input.database.since/until"),
}

# Per DuckDB connection: closes the database stream it reads (one at a time).
_OPEN_STREAMS: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, Callable[[], None]] = weakref.WeakKeyDictionary()


def configured(input_params: Mapping[str, Any]) -> bool:
    """Return True when the table is read from a database (``database.url`` set).

    >>> configured({"path": "orders.csv", "database": {"url": None}}), configured({"database": {"url": "env:DB"}})
    (False, True)
    """
    return bool(((input_params.get("database") or {}).get("url") or "").strip())


def env_name(value: str | None) -> str | None:
    """Return NAME for an ``env:NAME`` value, else None.

    >>> env_name("env:SHOP_DB"), env_name("postgresql://shop@db/shop")
    ('SHOP_DB', None)
    """
    text = str(value or "").strip()
    return text[len(ENV_PREFIX):].strip() if text.startswith(ENV_PREFIX) else None


def url_problem(url: str) -> str | None:
    """Return what is wrong with a connection URL (never quoting it), or None.

    >>> url_problem("postgresql://shop@localhost:5432/shop") is None, url_problem("mysql://db/shop")
    (True, "scheme 'mysql' is not postgresql")
    """
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in URL_SCHEMES:
        return f"scheme '{parts.scheme}' is not postgresql" if parts.scheme else "no postgresql:// scheme"
    return None


def resolve_url(value: str, key: str) -> str:
    """Return the URL of `value`: the text itself, or the environment variable of ``env:NAME``.

    Raises
    ------
    UserError
        The variable is unset or empty, or the URL is not a PostgreSQL URL (the URL itself is
        never quoted: it may hold a password).
    """
    name = env_name(value)
    url = os.environ.get(name, "").strip() if name else str(value).strip()
    where = f"{key} (environment variable {name})" if name else key
    if name is not None and not url:
        raise UserError(f"{key} reads the environment variable {name!r}, which is not set; "
                        f"fix: export {name}=postgresql://user:password@host:5432/dbname before running")
    problem = url_problem(url)
    if problem:
        raise UserError(f"{where}: {problem}; fix: write it like postgresql://user:password@host:5432/dbname")
    return url


def redact_url(value: str | None) -> str | None:
    """Return `value` with its password replaced by ``<redacted>`` (``env:NAME`` is kept).

    Examples
    --------
    >>> redact_url("postgresql://shop:s3cret@db:5432/shop?sslmode=require&password=x")
    'postgresql://shop:<redacted>@db:5432/shop?sslmode=require&password=%3Credacted%3E'
    >>> redact_url("env:SHOP_DB")
    'env:SHOP_DB'
    """
    if value is None or env_name(value) is not None:
        return value
    try:
        parts = urlsplit(str(value))
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username or ''}:{REDACTED}@{netloc.rpartition('@')[2]}"
    query = urlencode([(k, REDACTED if k.lower() == "password" else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_params(tree: dict[str, Any]) -> dict[str, Any]:
    """Redact the password of every URL in `URL_KEYS` of a params tree, in place; return it."""
    for section, block, leaf in URL_KEYS:
        node = (tree.get(section) or {}).get(block)
        if isinstance(node, dict) and node.get(leaf):
            node[leaf] = redact_url(node[leaf])
    return tree


def source_label(settings: Mapping[str, Any]) -> str:
    """Name a database source in messages and reports (never the URL).

    >>> source_label({"table": "shop.orders", "query": None}), source_label({"table": None, "query": "SELECT 1"})
    ('database table shop.orders', 'database query (input.database.query)')
    """
    table = (settings.get("table") or "").strip()
    return f"database table {table}" if table else "database query (input.database.query)"


def source_of(input_params: Mapping[str, Any]) -> tuple[Path, str]:
    """Return the name of the transactions source in messages and its format (`helpers.io`).

    A file: its path and `helpers.readers.detect_format`; a database: `source_label` and
    `DATABASE_FORMAT`.
    """
    if configured(input_params):
        return Path(source_label(input_params["database"])), DATABASE_FORMAT
    from helpers.readers import detect_format  # readers imports this module lazily

    path = Path(input_params["path"])
    return path, detect_format(path, input_params["format"])


def input_facts(input_params: Mapping[str, Any]) -> dict[str, Any]:
    """Return what the run manifest records of a database source: its label, table or query, window (no URL).

    There is no file to measure: ``bytes`` is None and ``sha256`` empty (the index then shows none).

    >>> input_facts({"database": {"url": "env:DB", "table": "orders", "query": None, "since": None, "until": None}})
    {'path': 'database table orders', 'bytes': None, 'sha256': '', 'table': 'orders', 'query': None, 'since': None, 'until': None}
    """
    settings = input_params["database"]
    facts: dict[str, Any] = {"path": source_label(settings), "bytes": None, "sha256": ""}
    facts.update({k: None if settings.get(k) is None else str(settings[k]) for k in ("table", "query", "since", "until")})
    return facts


def parse_day(value: Any, key: str) -> dt.date | None:
    """Return a ``since`` / ``until`` bound as a date (None when unset).

    >>> parse_day("2011-12-10", "input.database.until")
    datetime.date(2011, 12, 10)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise UserError(f"key '{key}': {value!r} is not a date; fix: write it like \"2011-01-01\" or null") from None


def base_query(settings: Mapping[str, Any]) -> str:
    """Return the SQL that selects the rows: the table's every row, or the query as written.

    >>> base_query({"table": 'shop.Orders', "query": None})
    'SELECT * FROM "shop"."Orders"'
    """
    table = (settings.get("table") or "").strip()
    if table:
        return "SELECT * FROM " + ".".join(quote_identifier(part) for part in table.split(".", 1))
    return str(settings["query"]).strip().rstrip(";").strip()


def read_query(settings: Mapping[str, Any], date_column: str | None, sample_rows: int | None = None) -> str:
    """Return the query the server runs: `base_query` within the date window, at most `sample_rows` rows.

    Examples
    --------
    >>> read_query({"table": "orders", "since": "2011-01-01", "until": None}, "ordered_at", 10)
    'SELECT * FROM (SELECT * FROM "orders") AS shop_lines WHERE "ordered_at" >= DATE \\'2011-01-01\\' LIMIT 10'
    """
    since = parse_day(settings.get("since"), "input.database.since")
    until = parse_day(settings.get("until"), "input.database.until")
    bounds = [f"{quote_identifier(date_column)} {op} DATE '{day.isoformat()}'"
              for op, day in ((">=", since), ("<", until)) if day is not None and date_column]
    sql = base_query(settings)
    if not bounds and sample_rows is None:
        return sql
    where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
    limit = f" LIMIT {int(sample_rows)}" if sample_rows is not None else ""
    return f"SELECT * FROM ({sql}) AS shop_lines{where}{limit}"


def driver_reason(exc: BaseException) -> str:
    """Return the driver's reason without its prefixes, query echo and SQLSTATE."""
    text = str(exc).replace("\t", " ")
    text = re.sub(r"^([A-Z_]+: )?(\[libpq\] )?(Failed to (connect|prepare query|execute query[^:]*)|"
                  r"Execution error \[\w+\]): ", "", text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("LINE ", "^", "Query was"))]
    reason = re.sub(r"\s*(ERROR|FATAL):\s+", " ", " ".join(lines[:2])).strip()
    return re.sub(r"\s*\.? SQLSTATE: \w+$", "", reason).strip()[:300]


def connect_error(exc: BaseException, key: str, url: str = "") -> UserError:
    """Turn a failed connection into one line naming `key` (the URL's params key) and the fix.

    libpq may quote the connection string in its reason: `url` is replaced by `redact_url`'s
    form there, and its password by ``<redacted>``.
    """
    reason = driver_reason(exc)
    if url:
        password = urlsplit(url).password if url_problem(url) is None else None
        reason = reason.replace(url, str(redact_url(url)))
        reason = reason.replace(password, REDACTED) if password else reason
    for pattern, what, fix in CONNECT_PROBLEMS:
        if re.search(pattern, str(exc)):
            return UserError(f"{key}: {what} ({reason}); fix: {fix.format(key=key)}")
    return UserError(f"{key}: cannot connect ({reason}); fix: check {key}")


def query_error(exc: BaseException, settings: Mapping[str, Any], tables: Callable[[], list[str]]) -> UserError:
    """Turn a failed query into one line naming the source, the key and the fix (`QUERY_PROBLEMS`)."""
    state = getattr(exc, "sqlstate", None) or ""
    label = source_label(settings)
    what, fix = QUERY_PROBLEMS.get(state, ("cannot run the query", "check input.database.table or input.database.query"))
    listed = ""
    if "{tables}" in fix:
        known = tables()
        close = difflib.get_close_matches((settings.get("table") or "").strip(), known, n=1, cutoff=0.5)
        listed = f" (did you mean '{close[0]}'?)" if close else (f" (the server has: {', '.join(known[:10])})" if known else "")
    source = "input.database.table" if (settings.get("table") or "").strip() else "input.database.query"
    return UserError(f"{label}: {what} ({driver_reason(exc)}); fix: {fix.format(tables=listed, source=source)}")


def open_connection(url: str, key: str, *, autocommit: bool = True) -> Any:
    """Open an ADBC connection to PostgreSQL; a failure becomes `connect_error`.

    Parameters
    ----------
    url : str
        A resolved URL (`resolve_url`).
    key : str
        The params key that holds it, named in messages.
    autocommit : bool, default True
        False for writes that must commit together (`helpers.database_output`).
    """
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as postgresql

    try:
        return postgresql.connect(url, autocommit=autocommit)
    except adbc_driver_manager.Error as exc:
        raise connect_error(exc, key, url) from None


def column_kind(field: Any) -> str:
    """Return the kind of an Arrow field from the driver (`PG_TYPE_KINDS`, else from its Arrow type)."""
    import pyarrow as pa

    pg_type = (field.metadata or {}).get(b"POSTGRESQL:type", b"").decode()
    if pg_type in PG_TYPE_KINDS:
        return PG_TYPE_KINDS[pg_type]
    storage = getattr(field.type, "storage_type", field.type)
    if pa.types.is_string(storage) or pa.types.is_large_string(storage):
        return "text"
    return pg_type or str(field.type)


def check_column_types(schema: Any, mapping: Mapping[str, str | None], label: str) -> None:
    """Stop when a mapped column's type cannot hold its field (`FIELD_KINDS`); missing columns are left to `helpers.io`."""
    fields = {f.name: f for f in schema}
    for field, column in mapping.items():
        if not column or column not in fields or field not in FIELD_KINDS:
            continue
        kinds, wanted = FIELD_KINDS[field]
        kind = column_kind(fields[column])
        if kind not in kinds:
            pg_type = (fields[column].metadata or {}).get(b"POSTGRESQL:type", b"").decode() or kind
            raise UserError(f"{label}: column '{column}' (mapped to {field}) is of type {pg_type}; fix: map "
                            f"input.columns.{field} to {wanted}, or convert it in input.database.query")


def _window_column(schema: Any, settings: Mapping[str, Any], date_column: str | None, label: str) -> str | None:
    """Return the column the date window filters on, after checking it exists and holds dates."""
    if settings.get("since") in (None, "") and settings.get("until") in (None, ""):
        return None
    fields = {f.name: f for f in schema}
    if not date_column or date_column not in fields:
        close = difflib.get_close_matches(str(date_column), list(fields), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UserError(f"{label}: input.database.since/until filter on input.columns.invoice_date, but column "
                        f"'{date_column}' is not in the rows{hint}; fix: set input.columns.invoice_date")
    if column_kind(fields[date_column]) not in WINDOW_KINDS:
        raise UserError(f"{label}: input.database.since/until need a timestamp or date column, but "
                        f"'{date_column}' (input.columns.invoice_date) is {column_kind(fields[date_column])}; "
                        f"fix: cast it in input.database.query, or set since and until to null")
    return date_column


def _view_columns(schema: Any) -> str:
    """Return the SELECT list of the view ``source``: numeric columns as DECIMAL(p,s) or DOUBLE."""
    columns = []
    for field in schema:
        name = quote_identifier(field.name)
        metadata = field.metadata or {}
        if metadata.get(b"POSTGRESQL:type") == b"numeric":
            typmod = int(metadata.get(b"POSTGRESQL:typmod", b"-1"))
            precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
            target = f"DECIMAL({precision},{scale})" if 0 < precision <= _MAX_DECIMAL_DIGITS else "DOUBLE"
            columns.append(f"TRY_CAST({name} AS {target}) AS {name}")
        else:
            columns.append(name)
    return ", ".join(columns)


def _batches(first: Any, reader: Any, close: Callable[[], None]) -> Iterator[Any]:
    """Yield `first`, then the rest of `reader`; close the database cursor at the end."""
    try:
        yield first
        yield from reader
    finally:
        close()


def _no_rows(settings: Mapping[str, Any], label: str) -> UserError:
    """The error for an empty result: the window's bounds when there is one, else the query."""
    window = [f"{k} {settings[k]}" for k in ("since", "until") if settings.get(k) not in (None, "")]
    if window:
        return UserError(f"{label}: no rows within input.database.{' and '.join(window)}; "
                         f"fix: widen input.database.since/until, or set them to null")
    return UserError(f"{label}: the query returns no rows; fix: point input.database.table or query at the order lines")


def _open_rows(settings: Mapping[str, Any], mapping: Mapping[str, str], label: str,
               sample_rows: int | None) -> tuple[Any, Any, Callable[[], None]]:
    """Connect, check the rows' columns, run the query; return its reader, first non-empty batch and a closer.

    The schema is asked for before anything runs (``adbc_execute_schema``), so wrong column
    types and a bad date window stop before a row is sent.
    """
    import adbc_driver_manager

    key = "input.database.url"
    connection = open_connection(resolve_url(settings["url"], key), key)
    cursor = connection.cursor()

    def close() -> None:
        cursor.close()
        connection.close()

    def tables() -> list[str]:
        cursor.execute(_TABLES_SQL)
        return [name for (name,) in cursor.fetchall()]

    try:
        for statement in _SESSION_SQL:
            cursor.execute(statement)
        schema = cursor.adbc_execute_schema(base_query(settings))
        check_column_types(schema, mapping, label)
        date_column = _window_column(schema, settings, mapping.get("invoice_date"), label)
        cursor.execute(read_query(settings, date_column, sample_rows))
        reader = cursor.fetch_record_batch()
        first = next((batch for batch in reader if batch.num_rows), None)
    except (adbc_driver_manager.Error, OSError) as exc:  # OSError: an error while the rows stream (1 / 0)
        error = query_error(exc, settings, tables)
        close()
        raise error from None
    except BaseException:
        close()
        raise
    if first is None:
        close()
        raise _no_rows(settings, label)
    return reader, first, close


def register_database_source(
    con: duckdb.DuckDBPyConnection, input_params: Mapping[str, Any], *, sample_rows: int | None = None
) -> list[str]:
    """Create the view ``source`` over the rows of ``input.database``, streamed from the server.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Receives the Arrow stream `STREAM_NAME` and the view ``source``, which can be read
        once (01_clean stages it in one pass).
    input_params : mapping
        The ``input`` section: ``database`` (url, table or query, since, until) and ``columns``.
    sample_rows : int, optional
        Read at most this many rows (the preflight); the server stops there.

    Returns
    -------
    list of str
        The column names of the rows.

    Raises
    ------
    UserError
        Unreachable server, login refused, unknown database, table or column, invalid query,
        no rows, or a mapped column of the wrong type; one line naming the key and the fix.
    """
    import pyarrow as pa

    settings = input_params["database"]
    mapping = {f: c for f, c in input_params["columns"].items() if c}
    reader, first, close = _open_rows(settings, mapping, source_label(settings), sample_rows)
    _close_stream(con)
    stream = pa.RecordBatchReader.from_batches(reader.schema, _batches(first, reader, close))
    _OPEN_STREAMS[con] = stream.close
    con.register(STREAM_NAME, stream)
    con.execute(_SOURCE_VIEW_SQL.format(columns=_view_columns(reader.schema))).fetchall()
    return [field.name for field in reader.schema]


def _close_stream(con: duckdb.DuckDBPyConnection) -> None:
    """Close the stream an earlier registration left open on `con` (and its database connection)."""
    closer = _OPEN_STREAMS.pop(con, None)
    if closer is not None:
        closer()
