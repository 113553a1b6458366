"""Charts needing an optional field no line carries are skipped with one line (issue #15).

Fixtures are the 12 hand-worked lines of tests/eda_fixture.py, rewritten per case: no
country on any line, no product id nor description, product ids but no descriptions (and
the reverse), dates without a time of day. Each case checks the skip decision
(`helpers.eda_fields.field_presence`), the line shown (`helpers.field_notes`,
`helpers.persona_rankings.missing_field_line`) and that with every field present nothing
changes.
"""

from __future__ import annotations

import pandas as pd
import pytest

from eda_fixture import LINES, write
from helpers import eda, eda_fields, eda_plots, eda_tables, field_notes, persona_rankings
from helpers.eda_fields import FieldPresence

# Positions in a fixture line: invoice, customer, date, product, description, country, ...
DATE, PRODUCT, DESCRIPTION, COUNTRY = 2, 3, 4, 5
# The shipped params.yaml mapping, and the same export with the optional columns unmapped.
MAPPED = {"columns": {"product_id": "StockCode", "description": "Description", "country": "Country"},
          "date_format": "auto"}
UNMAPPED = {"columns": {"product_id": None, "description": None, "country": None},
            "date_format": "%Y-%m-%d"}
# Customers A..E of the fixture in two clusters, for the 05_personas rankings.
CLUSTERS = pd.DataFrame({"customer_id": list("ABCDE"), "cluster": [0, 0, 1, 1, 1]})


def _rewrite(**values) -> list[tuple]:
    """The fixture lines with some positions (DATE=..., COUNTRY=...) replaced on every line."""
    positions = {"date": DATE, "product": PRODUCT, "description": DESCRIPTION, "country": COUNTRY}
    lines = []
    for line in LINES:
        fields = list(line)
        for name, value in values.items():
            fields[positions[name]] = value(fields[positions[name]]) if callable(value) else value
        lines.append(tuple(fields))
    return lines


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """One Parquet per case, typed like 01_clean's output."""
    directory = tmp_path_factory.mktemp("fields")
    cases = {
        "full": LINES,
        "no_country": _rewrite(country=None),
        "blank_country": _rewrite(country="  "),
        "no_product": _rewrite(product=None, description=None),
        "descriptions_only": _rewrite(product=None),
        "ids_only": _rewrite(description=None),
        "no_time": _rewrite(date=lambda stamp: stamp[:10]),
        "nothing": _rewrite(country=None, product=None, description=None, date=lambda stamp: stamp[:10]),
        "empty": [],
    }
    return {name: write(directory, name, lines) for name, lines in cases.items()}


# ----------------------------------------------------------------------------- skip decision


@pytest.mark.parametrize(
    ("case", "missing"),
    [
        ("full", ()),
        ("no_country", ("country",)),
        ("blank_country", ("country",)),
        ("no_product", ("product",)),
        ("descriptions_only", ()),  # products are told apart by description
        ("ids_only", ()),
        ("no_time", ("time_of_day",)),
        ("nothing", ("country", "product", "time_of_day")),
        ("empty", ()),  # no lines: the charts say "no transactions" themselves
    ],
)
def test_field_presence_names_the_fields_no_line_carries(con, files, case, missing):
    assert eda_fields.field_presence(con, files[case]).missing == missing


def test_field_presence_flags_each_field(con, files):
    assert eda_fields.field_presence(con, files["full"]) == FieldPresence(True, True, True, True, True)
    ids_only = eda_fields.field_presence(con, files["ids_only"])
    assert (ids_only.product_id, ids_only.description, ids_only.product) == (True, False, True)
    assert eda_fields.field_presence(con, files["empty"]) == FieldPresence(False, False, False, False, False)


# ----------------------------------------------------------------------------- the line (02_eda)


def test_skip_line_says_the_column_is_not_mapped_or_blank(con, files):
    presence = eda_fields.field_presence(con, files["nothing"])
    country = field_notes.skip_line(presence, "country", "the country chart is skipped", UNMAPPED)
    assert country == "No country column is mapped (input.columns.country), so the country chart is skipped."
    assert field_notes.skip_line(presence, "country", "the country chart is skipped", MAPPED) == (
        "The country column 'Country' (input.columns.country) is blank on every line, "
        "so the country chart is skipped."
    )
    assert field_notes.skip_line(presence, "product", "the top-products chart is skipped", UNMAPPED) == (
        "No product id or description column is mapped (input.columns.product_id, "
        "input.columns.description), so the top-products chart is skipped."
    )
    assert field_notes.skip_line(presence, "product", "the top-products chart is skipped", MAPPED) == (
        "The product id column 'StockCode' (input.columns.product_id) and the description column "
        "'Description' (input.columns.description) are blank on every line, so the top-products "
        "chart is skipped."
    )
    assert field_notes.skip_line(presence, "time_of_day", "the orders-by-hour chart is skipped", UNMAPPED) == (
        "The order dates carry no time of day (every one is at 00:00; input.date_format is "
        "'%Y-%m-%d'), so the orders-by-hour chart is skipped."
    )


def test_skip_line_without_params_and_for_a_field_present(con, files):
    presence = eda_fields.field_presence(con, files["no_country"])
    assert field_notes.skip_line(presence, "country", "the country chart is skipped") == (
        "No line has a country (input.columns.country), so the country chart is skipped."
    )
    assert field_notes.skip_line(presence, "product", "the top-products chart is skipped", MAPPED) is None
    with pytest.raises(ValueError, match="unknown optional field 'city'"):
        field_notes.skip_line(presence, "city", "the city chart is skipped")


def test_no_line_is_written_for_an_export_without_lines(con, files):
    presence = eda_fields.field_presence(con, files["empty"])
    assert field_notes.skip_lines(presence, {field: "skipped" for field in eda_fields.OPTIONAL_FIELDS}) == []
    assert field_notes.customer_columns_line(presence, UNMAPPED) is None


def test_the_hour_chart_is_never_one_bar_at_midnight(con, files):
    # Even when called without the skip decision, the plot draws no 00:00 bar.
    fig, takeaway = eda_plots.plot_orders_by_hour(eda.orders_by_hour(con, files["no_time"]))
    assert fig is None
    assert takeaway == "Every order is stamped 00:00, so the data likely holds dates without times of day."


# ----------------------------------------------------------------------------- tables (02_eda)


def test_overview_says_not_in_the_export_and_dates_without_time(con, files):
    path = files["nothing"]
    missing = eda_fields.field_presence(con, path).missing
    table = eda_tables.overview_table(eda.overview(con, path), missing=missing).set_index("figure")["value"]
    assert table["products"] == table["countries"] == "not in the export"
    assert (table["first date"], table["last date"]) == ("2011-01-03", "2011-03-10")
    assert table["customers"] == "5"


def test_customer_table_drops_columns_without_their_field(con, files):
    path = files["nothing"]
    presence = eda_fields.field_presence(con, path)
    summary = eda.customer_summary(con, path)
    assert summary["distinct_products"].eq(0).all() and summary["country"].isna().all()
    customers = eda_fields.drop_missing_fields(summary, presence)
    assert "distinct_products" not in customers.columns and "country" not in customers.columns
    assert customers.attrs["dropped_fields"] == {"product": ["distinct_products"], "country": ["country"]}
    assert "distinct products" not in eda_tables.customer_table_summary(customers)["metric"].tolist()
    assert field_notes.customer_columns_line(presence, UNMAPPED) == (
        "No product id or description column is mapped (input.columns.product_id, "
        "input.columns.description), so the customer table has no distinct products column; "
        "no country column is mapped (input.columns.country), so the customer table has no "
        "country column."
    )


# ----------------------------------------------------------------------------- unchanged with the fields


def test_with_every_field_present_02_is_unchanged(con, files):
    path = files["full"]
    presence = eda_fields.field_presence(con, path)
    assert field_notes.skip_lines(presence, {f: "skipped" for f in eda_fields.OPTIONAL_FIELDS}, MAPPED) == []
    assert field_notes.customer_columns_line(presence, MAPPED) is None
    summary = eda.customer_summary(con, path)
    customers = eda_fields.drop_missing_fields(summary, presence)
    pd.testing.assert_frame_equal(customers, summary)
    pd.testing.assert_frame_equal(
        eda_tables.customer_table_summary(customers), eda_tables.customer_table_summary(summary)
    )
    overview = eda.overview(con, path)
    pd.testing.assert_frame_equal(
        eda_tables.overview_table(overview, missing=presence.missing), eda_tables.overview_table(overview)
    )
    fig, takeaway = eda_plots.plot_orders_by_hour(eda.orders_by_hour(con, path))
    assert fig is not None
    assert takeaway == "Orders peak between 10:00 and 10:59 with 4 purchase orders (57% of all)."


# ----------------------------------------------------------------------------- 05_personas rankings


def test_rankings_without_the_field_are_empty_with_a_reason(con, files):
    countries = persona_rankings.top_by_cluster(con, files["no_country"], CLUSTERS, "country", n=2)
    assert countries.empty and countries.attrs["missing"] == "country"
    products = persona_rankings.top_by_cluster(con, files["no_product"], CLUSTERS, "product", n=2)
    assert products.empty and products.attrs["missing"] == "product"
    signature = persona_rankings.signature_products(con, files["no_product"], CLUSTERS, n=2, min_buyers=1)
    assert signature.empty and signature.attrs["missing"] == "product"
    # The field missing for one ranking does not mark the other.
    other = persona_rankings.top_by_cluster(con, files["no_product"], CLUSTERS, "country", n=2)
    assert not other.empty and "missing" not in other.attrs


def test_missing_field_line_for_05(con, files):
    path = files["nothing"]
    countries = persona_rankings.top_by_cluster(con, path, CLUSTERS, "country", n=2)
    products = persona_rankings.top_by_cluster(con, path, CLUSTERS, "product", n=2)
    signature = persona_rankings.signature_products(con, path, CLUSTERS, n=2, min_buyers=1)
    rankings = {"top countries": countries, "top products": products, "signature products": signature}
    assert persona_rankings.missing_field_line(rankings, UNMAPPED) == (
        "No country column is mapped (input.columns.country), so the personas' top countries are "
        "not listed; no product id or description column is mapped (input.columns.product_id, "
        "input.columns.description), so the personas' top products and signature products are not listed."
    )
    assert persona_rankings.missing_field_line({"signature products": signature}, MAPPED) == (
        "The product id column 'StockCode' (input.columns.product_id) and the description column "
        "'Description' (input.columns.description) are blank on every line, so the personas' "
        "signature products are not listed."
    )


def test_with_every_field_present_05_is_unchanged(con, files):
    path = files["full"]
    countries = persona_rankings.top_by_cluster(con, path, CLUSTERS, "country", n=1)
    products = persona_rankings.top_by_cluster(con, path, CLUSTERS, "product", n=1)
    assert countries["item"].tolist() == ["France", "United Kingdom"]  # A, B tie on 1: more revenue
    assert products["item"].tolist() == ["P1", "P2"]  # A, B: 10 + 20 + 15 + 10; C, D, E: 60
    # No signature passes 5 buyers here: empty, but for the threshold, not for a missing field.
    signature = persona_rankings.signature_products(con, path, CLUSTERS, n=1)
    assert signature.empty and "missing" not in signature.attrs
    rankings = {"top countries": countries, "top products": products, "signature products": signature}
    assert persona_rankings.missing_field_line(rankings, MAPPED) is None
