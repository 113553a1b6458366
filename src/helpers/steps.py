"""The step registry: every step of the pipeline once, in the order the runner executes them.

The runner, ``index.html`` (`helpers.summary`) and the tests read this table; adding a step
means one entry here, its notebook, its helper modules and their tests.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Step:
    """One numbered notebook.

    Parameters
    ----------
    name : str
        Notebook file name without ``.ipynb``, e.g. ``"03_rfm"``.
    title : str
        Heading of its HTML page and its link in ``index.html``.
    outputs : tuple of str
        Catalog datasets it writes (`helpers.catalog.DATASETS`), at either input level.
    metrics : tuple of str
        Headline figures it records with `helpers.metrics.record_metrics`, read by
        ``index.html`` and the manifest.
    customer_level : str or None
        Notebook run instead of `name` when ``input.level`` is ``customers`` (one row per
        customer, no transactions); None: the same notebook serves both levels.
    customer_title : str or None
        Title of that notebook's page (None: `title`).
    after : tuple of str or None
        Steps whose outputs it reads (None: every earlier step); steps with no path between
        them run side by side (`dependencies`).
    customer_after : tuple of str or None
        The same for its customer-level notebook (None: every earlier step).
    after_if : tuple of (str, callable)
        Steps it reads only for some params: (step, params -> whether it reads that step's
        outputs). `unneeded_links` drops the links the run's params make void.
    """

    name: str
    title: str
    outputs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    customer_level: str | None = None
    customer_title: str | None = None
    after: tuple[str, ...] | None = None
    customer_after: tuple[str, ...] | None = None
    after_if: tuple[tuple[str, Callable[[Mapping[str, Any]], bool]], ...] = ()


def _clustering_reads_customers(params: Mapping[str, Any]) -> bool:
    """04_clustering reads 02_eda's table (`helpers.catalog.clustering_reads_customers`)."""
    from helpers.catalog import (
        clustering_reads_customers,  # catalog imports pandas: only when asked
    )

    return clustering_reads_customers(params)


STEPS: tuple[Step, ...] = (
    Step("01_clean", "Cleaning: what was read, removed and kept",
         ("transactions", "cleaning_log", "facts", "customer_table"),
         ("raw_rows", "removed_rows", "kept_rows", "rows", "customers", "orders", "net_revenue",
          "first_date", "last_date"), customer_level="01_clean_customers",
         customer_title="Cleaning: the customer table, what was removed and changed"),
    Step("02_eda", "Exploration: trends, countries, products, cohorts", ("customers",), ("customers",),
         customer_level="02_eda_customers", customer_title="Exploration: what each column of the customer table holds",
         after=("01_clean",)),
    Step("03_rfm", "RFM segments, how customers moved, and their future value", ("rfm", "clv"),
         ("customers", "segments", "clv"), customer_level="03_rfm_customers",
         customer_title="RFM segments from the table's recency, frequency and monetary",
         after=("01_clean",)),  # the customer-level 03 reads 02's table: every earlier step
    Step("04_clustering", "Clustering: how many kinds of customers", ("clusters", "cluster_model"),
         ("chosen_k", "k_reason", "silhouette", "stability_mean_ari", "stable", "model"),
         after=("03_rfm",), after_if=(("02_eda", _clustering_reads_customers),)),
    Step("05_personas", "Personas, actions and exports", ("segments", "personas"), ("customers", "personas"),
         customer_level="05_personas_customers", after=("02_eda", "04_clustering")),
)
NOTEBOOKS: tuple[str, ...] = tuple(step.name for step in STEPS)
STEP_TITLES: dict[str, str] = {step.name: step.title for step in STEPS}


LEVELS: tuple[str, ...] = ("transactions", "customers")


def notebook_file(name: str, level: str = "transactions") -> str:
    """Return the notebook file that runs step `name` for input level `level`.

    >>> notebook_file("01_clean", "customers"), notebook_file("04_clustering", "customers")
    ('01_clean_customers.ipynb', '04_clustering.ipynb')
    """
    entry = step(name)
    if level == "customers" and entry.customer_level:
        return f"{entry.customer_level}.ipynb"
    return f"{entry.name}.ipynb"


def step_title(name: str, level: str = "transactions") -> str:
    """Return the page title of step `name` for input level `level` (the name when unknown).

    >>> step_title("02_eda", "customers"), step_title("04_clustering", "customers")
    ('Exploration: what each column of the customer table holds', 'Clustering: how many kinds of customers')
    """
    entry = next((s for s in STEPS if s.name == name), None)
    if entry is None:
        return name
    return entry.customer_title if level == "customers" and entry.customer_title else entry.title


def step(name: str) -> Step:
    """Return the registry entry of notebook `name`.

    >>> step("03_rfm").outputs
    ('rfm', 'clv')
    """
    for entry in STEPS:
        if entry.name == name:
            return entry
    raise KeyError(f"no step {name!r}; steps: {', '.join(NOTEBOOKS)}")


def dependencies(
    names: Sequence[str], level: str = "transactions", unneeded: Collection[tuple[str, str]] = ()
) -> dict[str, tuple[str, ...]]:
    """Return, for each step of `names`, the steps of `names` that must finish before it starts.

    Dependencies pass through steps left out of `names` (a step run alone reads what earlier
    runs left), so restricting the run never lets a step overtake one it reads from.
    `unneeded` holds (step, earlier step) pairs whose link this run's params make void
    (`unneeded_links`), e.g. ``("04_clustering", "02_eda")`` when no clustering feature comes
    from 02's table.

    >>> dependencies(NOTEBOOKS)["03_rfm"], dependencies(NOTEBOOKS)["04_clustering"]
    (('01_clean',), ('01_clean', '02_eda', '03_rfm'))
    >>> dependencies(NOTEBOOKS, "customers")["03_rfm"]
    ('01_clean', '02_eda')
    >>> dependencies(["02_eda", "03_rfm", "05_personas"])
    {'02_eda': (), '03_rfm': (), '05_personas': ('02_eda', '03_rfm')}
    >>> dependencies(NOTEBOOKS, unneeded=[("04_clustering", "02_eda")])["04_clustering"]
    ('01_clean', '03_rfm')
    """
    direct: dict[str, tuple[str, ...]] = {}
    for i, entry in enumerate(STEPS):
        after = entry.customer_after if level == "customers" and entry.customer_level else entry.after
        after = tuple(NOTEBOOKS[:i]) if after is None else (*after, *(d for d, _ in entry.after_if))
        direct[entry.name] = tuple(d for d in after if (entry.name, d) not in unneeded)
    closure: dict[str, set[str]] = {}
    for name in NOTEBOOKS:  # registry order: every step's dependencies come earlier
        closure[name] = set(direct[name]).union(*(closure[d] for d in direct[name]))
    return {name: tuple(d for d in NOTEBOOKS if d in closure[name] and d in names) for name in names}


def unneeded_links(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The (step, earlier step) links of `Step.after_if` that `params` make void.

    >>> params = {"input": {}, "clustering": {"features": ["recency_days"]}}
    >>> unneeded_links(params), unneeded_links({**params, "clustering": {"features": ["gender"]}})
    ((('04_clustering', '02_eda'),), ())
    """
    return tuple((entry.name, step_name) for entry in STEPS for step_name, needed in entry.after_if if not needed(params))
