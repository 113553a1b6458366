"""Prototype of the seam proposed for src/helpers/engine.py (NOT applied to /work/main).

    engine:
      kind: duckdb            # duckdb | spark
      spark:
        master: local[*]      # local[N], spark://host:7077, or sc://host:15002 (Spark Connect)
        options: {}           # any spark.* option, e.g. spark.driver.memory: 4g

`connect(params)` returns a DuckDB connection (as today) or a `SparkConnection`; both offer
execute(sql, params) -> .df() / .fetchall() / .fetchone(), register / unregister, close.
The helpers keep one SQL text in DuckDB's dialect; the Spark adapter transpiles it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENGINE_KINDS = ("duckdb", "spark")


@dataclass(frozen=True)
class EngineSettings:
    memory_limit: str = "2GB"
    temp_dir: str | None = None
    threads: int | None = None
    kind: str = "duckdb"
    spark_master: str = "local[*]"
    spark_options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> EngineSettings:
        run = (params or {}).get("run") or {}
        eng = (params or {}).get("engine") or {}
        spark = eng.get("spark") or {}
        kind = str(eng.get("kind") or "duckdb")
        if kind not in ENGINE_KINDS:
            raise ValueError(f"key 'engine.kind': {kind!r}; fix: use duckdb or spark")
        return cls(
            memory_limit=str(run.get("memory_limit") or "2GB"),
            temp_dir=run.get("temp_dir") or None,
            threads=run.get("threads") or None,
            kind=kind,
            spark_master=str(spark.get("master") or "local[*]"),
            spark_options={str(k): str(v) for k, v in (spark.get("options") or {}).items()},
        )


def connect(settings: EngineSettings | None = None):
    settings = settings or EngineSettings()
    if settings.kind == "duckdb":
        import sys

        sys.path.insert(0, "/work/main/src")
        from helpers import engine

        return engine.connect(engine.EngineSettings(settings.memory_limit, settings.temp_dir, settings.threads))
    try:
        import spark_engine as se
    except ImportError as exc:  # pyspark is an extra: make setup-spark
        raise RuntimeError("engine.kind is spark but pyspark is not installed; fix: make setup-spark") from exc
    options = dict(settings.spark_options)
    if settings.temp_dir:
        options.setdefault("spark.local.dir", settings.temp_dir)  # spills, like DuckDB's temp_directory
    if settings.threads and settings.spark_master == "local[*]":
        master = f"local[{int(settings.threads)}]"
    else:
        master = settings.spark_master
    session = se.spark_session(se.SparkSettings(master=master, options=options))
    return se.SparkConnection(session)
