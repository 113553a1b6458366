"""Collection rules for the whole repository (tests/ and the doctests of src/helpers).

The Spark engine's modules need the optional extra (`make setup-spark`): without it their
doctests are not collected, and tests/test_spark_*.py skip themselves.
"""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("sqlglot") else ["src/helpers/spark_*.py"]
