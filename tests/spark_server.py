"""A throwaway Spark Connect server for the tests (``engine.spark.master: sc://...``).

`spark_connect` (session fixture) starts ``SparkConnectServer`` from the installed pyspark
(local[2], on a free port of 127.0.0.1) once per test session and stops it at the end;
it yields the ``sc://`` URL. Tests that use it skip without pyspark and its Connect client.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers.database_server import free_port


@pytest.fixture(scope="session")
def spark_connect(tmp_path_factory):
    """A Spark Connect server on a free local port; its ``sc://`` URL."""
    pyspark = pytest.importorskip("pyspark")
    pytest.importorskip("grpc")
    port = free_port()
    log = tmp_path_factory.mktemp("connect") / "server.log"
    home = Path(pyspark.__file__).parent
    command = [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
               "--master", "local[2]", "--conf", f"spark.connect.grpc.binding.port={port}",
               "--conf", "spark.connect.grpc.binding.address=127.0.0.1", "--conf", "spark.ui.enabled=false",
               "--conf", "spark.sql.shuffle.partitions=2", "spark-internal"]
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                  env={**os.environ, "SPARK_HOME": str(home)})
    try:
        deadline = time.monotonic() + 90
        while "Spark Connect server started" not in log.read_text(errors="replace"):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
