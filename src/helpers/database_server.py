"""A throwaway local PostgreSQL server: for the sample (`make db-sample`), the tests and the benchmark.

Usage::

    python -m helpers.database_server start [--folder DIR] [--port 54329]   # prints the URL
    python -m helpers.database_server load-sample --url postgresql://postgres@127.0.0.1:54329/shop [--rows N]
    python -m helpers.database_server stop [--folder DIR]

`start_server` makes a new cluster with ``initdb`` in a folder of its own and starts it with
``pg_ctl`` on 127.0.0.1 (and a Unix socket in the same folder). PostgreSQL refuses to run
as root, so under root (CI, containers) every server command runs as the ``postgres`` user
(``runuser -u postgres --``) and the folder is handed to that user; otherwise they run as
the current user. Authentication is ``trust`` for every user but `PASSWORD_USER`, which
must give its password (``scram-sha-256``): the tests use it for the bad-credentials case.

The server is made to be thrown away: durability is off (``fsync``, ``synchronous_commit``,
``full_page_writes``), which makes loading the sample several times faster and would lose
data on a power cut. Never point it at data you want to keep.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers.engine import quote_identifier, quote_literal
from helpers.errors import UserError, cli_error

# Where Debian and most Linux packages put the server programs, newest first; then PATH.
BIN_DIR_PATTERNS: tuple[str, ...] = tuple(f"/usr/lib/postgresql/{v}/bin" for v in (17, 16, 15, 14, 13))
SERVER_PROGRAMS: tuple[str, ...] = ("initdb", "pg_ctl", "postgres")
SERVER_USER = "postgres"  # the account the server runs as under root
SUPERUSER = "postgres"  # the database superuser initdb creates
PASSWORD_USER = "ecomseg_password"  # the one role that must give a password
DEFAULT_PORT = 54329
DEFAULT_FOLDER = Path(tempfile.gettempdir()) / "ecomseg-postgres"
# Settings of a throwaway server: fast loads, nothing kept safe.
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1", "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
}
# pg_hba.conf: the password role first (first match wins), then trust for everyone else.
HBA_LINES: tuple[str, ...] = (
    f"local all {PASSWORD_USER} scram-sha-256",
    f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256",
    "local all all trust",
    "host all all 127.0.0.1/32 trust",
)


def find_bin_dir() -> Path | None:
    """Return the folder holding initdb, pg_ctl and postgres, or None when they are not installed."""
    candidates = [Path(p) for p in BIN_DIR_PATTERNS]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    return next((d for d in candidates if all((d / p).is_file() for p in SERVER_PROGRAMS)), None)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: Sequence[str]) -> list[str]:
    """Prefix `command` so that it runs as `SERVER_USER` when we are root."""
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else list(command)


def _run(command: Sequence[str], what: str) -> None:
    """Run a server program (as `SERVER_USER` under root); a failure is one line with its last message."""
    done = subprocess.run(_as_server_user(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise UserError(f"{what} failed ({reason[-1] if reason else f'exit {done.returncode}'}); "
                        f"fix: see the server log, or start over with a new --folder")


@dataclass(frozen=True)
class LocalServer:
    """A running throwaway server: its folder, port and programs.

    Parameters
    ----------
    folder : Path
        Holds ``data/`` (the cluster), ``server.log`` and the Unix socket.
    port : int
        TCP port on 127.0.0.1.
    bin_dir : Path
        Folder of the server programs (`find_bin_dir`).
    """

    folder: Path
    port: int
    bin_dir: Path

    def url(self, database: str = SUPERUSER, user: str = SUPERUSER, password: str | None = None) -> str:
        """Return the connection URL of `database` as `user`.

        >>> LocalServer(Path("/tmp/x"), 5433, Path("/usr/bin")).url("shop")
        'postgresql://postgres@127.0.0.1:5433/shop'
        """
        login = f"{user}:{password}" if password else user
        return f"postgresql://{login}@127.0.0.1:{self.port}/{database}"

    def stop(self, remove: bool = False) -> None:
        """Stop the server (fast shutdown) and, with `remove`, delete its folder."""
        if (self.folder / "data" / "postmaster.pid").exists():
            _run([str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop"],
                 "stopping the PostgreSQL server")
        if remove:
            shutil.rmtree(self.folder, ignore_errors=True)


def _hand_over(folder: Path) -> None:
    """Give `folder` (or a file) to `SERVER_USER` when we are root (the server will not run as root)."""
    if os.geteuid() != 0:
        return
    try:
        account = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise UserError(f"no '{SERVER_USER}' user on this machine, and PostgreSQL refuses to run as root; "
                        f"fix: apt-get install postgresql (it creates the user), or run as another user") from None
    os.chown(folder, account.pw_uid, account.pw_gid)


def start_server(folder: Path | None = None, port: int | None = None) -> LocalServer:
    """Make a new cluster in `folder` and start it; return the running server.

    Parameters
    ----------
    folder : Path, optional
        An empty or missing folder (default: a new temporary one). Its parents must be
        readable by `SERVER_USER` under root (the system temp folder is).
    port : int, optional
        Default: a free port (`free_port`).

    Raises
    ------
    UserError
        The server programs are not installed, the folder already holds a cluster, or the
        server does not start (the message names the fix).
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise UserError("PostgreSQL server programs (initdb, pg_ctl) not found; "
                        "fix: apt-get install postgresql (or postgresql-15)")
    folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="ecomseg-pg-"))
    if (folder / "data").exists():
        raise UserError(f"{folder}: already holds a PostgreSQL cluster; fix: stop it "
                        f"(python -m helpers.database_server stop --folder {folder}) or choose another --folder")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    _hand_over(folder)
    server = LocalServer(folder, port or free_port(), bin_dir)
    data = folder / "data"
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
          "--locale=C", "--no-sync"], "initdb")
    (data / "pg_hba.conf").write_text("\n".join(HBA_LINES) + "\n", encoding="utf-8")
    _hand_over(data / "pg_hba.conf")
    options = " ".join([f"-p {server.port}", f"-k {folder}", *(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())])
    _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w", "start"],
         f"starting PostgreSQL on port {server.port} (log: {folder / 'server.log'})")
    return server


def running_server(folder: Path) -> LocalServer | None:
    """Return the server started in `folder` if it still runs, else None (read from postmaster.pid)."""
    pid_file = folder / "data" / "postmaster.pid"
    bin_dir = find_bin_dir()
    if not pid_file.is_file() or bin_dir is None:
        return None
    lines = pid_file.read_text().splitlines()
    try:
        os.kill(int(lines[0]), 0)
    except (ProcessLookupError, ValueError, IndexError):
        return None
    except PermissionError:
        pass  # alive, owned by the server user
    return LocalServer(folder, int(lines[3]), bin_dir)


# The shipped Online Retail export as a shop's table: (column, export column, PostgreSQL type).
# Other names than the export's, so a params file must map them (params/postgres.example.yaml).
SAMPLE_TABLE = "orders"
SAMPLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("order_no", "InvoiceNo", "text"),
    ("sku", "StockCode", "text"),
    ("item", "Description", "text"),
    ("qty", "Quantity", "integer"),
    ("ordered_at", "InvoiceDate", "timestamp"),
    ("price", "UnitPrice", "numeric(12,3)"),  # up to 3 decimals in the export (0.001)
    ("customer", "CustomerID", "integer"),
    ("country", "Country", "text"),
)
_DUCKDB_TYPES = {"text": "VARCHAR", "integer": "INTEGER", "timestamp": "TIMESTAMP", "numeric(12,3)": "DECIMAL(12,3)"}


def _create_database(url: str) -> None:
    """Create the database named in `url` when the server lacks it (connecting to ``postgres``)."""
    from helpers.database import open_connection

    parts = url.rsplit("/", 1)
    name = parts[1].split("?", 1)[0]
    with open_connection(f"{parts[0]}/postgres", "--url") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = $1", parameters=(name,))
        if not cursor.fetchall():
            cursor.execute(f"CREATE DATABASE {quote_identifier(name)}")


def load_lines(url: str, source: str, columns: Sequence[tuple[str, str, str]], table: str,
               rows: int | None = None) -> int:
    """Load the rows DuckDB reads from `source` into `table` (replaced), in one transaction; return the rows.

    Parameters
    ----------
    url : str
        The database to load into; it is created when missing.
    source : str
        What DuckDB reads, e.g. ``read_csv('orders.csv', all_varchar = true)``.
    columns : sequence of (column, source column, PostgreSQL type)
        The table's columns, cast from the source's (types of `_DUCKDB_TYPES`).
    table : str
    rows : int, optional
        Only the first `rows` rows (default: all).
    """
    import duckdb

    from helpers.database import open_connection

    _create_database(url)
    select = ", ".join(f"CAST({quote_identifier(src)} AS {_DUCKDB_TYPES[kind]}) AS {quote_identifier(name)}"
                       for name, src, kind in columns)
    limit = f" LIMIT {int(rows)}" if rows is not None else ""
    reader = duckdb.connect().sql(f"SELECT {select} FROM {source}{limit}").to_arrow_reader()
    ddl = ", ".join(f"{quote_identifier(name)} {kind}" for name, _, kind in columns)
    with open_connection(url, "--url", autocommit=False) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {quote_identifier(table)}")
        cursor.execute(f"CREATE TABLE {quote_identifier(table)} ({ddl})")
        loaded = cursor.adbc_ingest(table, reader, mode="append")
        connection.commit()
    return int(loaded)


def load_sample(url: str, rows: int | None = None, export: Path | None = None, table: str = SAMPLE_TABLE) -> int:
    """Load the shipped export (its first `rows` lines) into `table` as `SAMPLE_COLUMNS`; return the rows.

    The lines are read by DuckDB as text, cast to the table's types and streamed to the
    server in Arrow batches, in file order (`load_lines`).

    Parameters
    ----------
    url : str
        The database to load into; it is created when missing.
    rows : int, optional
        Only the first `rows` data lines (default: all 541,909).
    export : Path, optional
        Default: ``data/raw/online_retail.csv.gz``.
    table : str, default `SAMPLE_TABLE`
    """
    from helpers.config import PROJECT_ROOT

    export = export or PROJECT_ROOT / "data" / "raw" / "online_retail.csv.gz"
    return load_lines(url, f"read_csv({quote_literal(str(export))}, all_varchar = true)", SAMPLE_COLUMNS, table, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``start`` (prints the superuser URL), ``load-sample`` or ``stop``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m helpers.database_server", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "stop", "load-sample"))
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help=f"default {DEFAULT_FOLDER}")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument("--url", help="load-sample: the database to load the shipped export into")
    parser.add_argument("--rows", type=int, help="load-sample: only the first ROWS lines")
    args = parser.parse_args(argv)
    try:
        if args.action == "load-sample":
            if not args.url:
                raise UserError("load-sample needs --url; fix: add --url postgresql://postgres@127.0.0.1:54329/shop")
            loaded = load_sample(args.url, args.rows)
            print(f"loaded {loaded:,} lines into table {SAMPLE_TABLE}")
            return 0
        server = running_server(args.folder)
        if args.action == "stop":
            if server is not None:
                server.stop()
            made_here = (args.folder / "data" / "PG_VERSION").is_file()  # never delete a folder we did not make
            if made_here:
                shutil.rmtree(args.folder, ignore_errors=True)
            print(("stopped the server" if server else "no server was running")
                  + (f"; removed {args.folder}" if made_here else ""))
            return 0
        if server is None:
            server = start_server(args.folder, args.port)
        print(server.url())
    except UserError as exc:
        return cli_error(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
