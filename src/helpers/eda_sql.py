"""SQL of the exploratory aggregates of step 02_eda (`helpers.eda` runs it).

Fixed text: the cleaned transactions file reaches it as the parameter ``$path`` (`SOURCE`),
other values as parameters too; the few placeholders in braces are other fixed SQL text
(``{orders}``, ``{per_customer}``, ``{last_code}``). Definitions (purchase order, net
revenue) are those of `helpers.eda`.
"""

from __future__ import annotations

SOURCE = "read_parquet($path)"  # the cleaned transactions; $path is a query parameter
# Missing or blank text counts as missing.
_COUNTRY = "nullif(trim(country), '')"
_DESCRIPTION = "nullif(trim(description), '')"
_PRODUCT_KEY = f"coalesce(product_id, {_DESCRIPTION})"
# Sums of amounts are rounded so float residue (a return that cancels a purchase leaves
# 1e-14, not 0) does not pass for a tiny positive revenue on a log axis.
AMOUNT_DECIMALS = 6
NET_REVENUE = f"round(sum(amount), {AMOUNT_DECIMALS})"

LINES_SQL = f"SELECT count(*) FROM {SOURCE}"
# The first and last date the data cover (every line, returns included).
DATE_BOUNDS_SQL = f"""SELECT min(invoice_date) AS first_date, max(invoice_date) AS last_date
    FROM {SOURCE} WHERE invoice_date IS NOT NULL"""

# Two tables are read from the file once per connection and file (`helpers.eda.shared_table`)
# and feed the aggregates below, which used to scan the lines each: at 100M lines (78M
# cleaned) about 20 scans for 02_eda's queries, now six.
#
# The lines of each invoice per customer, country, calendar month and kind (purchase or
# return): one row per invoice in a tidy export, 7.9M at 100M. A part's month is that of
# its first_at. Purchase orders, monthly, country, customer and cohort counts read it.
ORDER_PARTS_TABLE = "eda_order_parts"
ORDER_PARTS_SQL = f"""
    SELECT customer_id, invoice_id, is_return, {_COUNTRY} AS country,
           min(invoice_date) AS first_at, count(*) AS lines,
           count(*) FILTER (WHERE is_outlier) AS outlier_lines,
           sum(amount) AS amount, sum(quantity) AS items
    FROM {SOURCE}
    GROUP BY customer_id, invoice_id, is_return, {_COUNTRY}, date_trunc('month', invoice_date)
"""
# Lines per product and description (4,000 products at 100M): the product count, the top
# products and the codes of the distinct-product bitmaps.
PRODUCTS_TABLE = "eda_products"
PRODUCTS_SQL = f"""
    SELECT {_PRODUCT_KEY} AS product, {_DESCRIPTION} AS description, count(*) AS lines,
           count(*) FILTER (WHERE NOT is_return) AS purchase_lines,
           sum(amount) AS amount, sum(quantity) AS quantity
    FROM {SOURCE}
    GROUP BY ALL
"""

# One row per purchase order: time (its earliest line), value and items.
ORDERS_SQL = f"""
    SELECT invoice_id, min(first_at) AS ordered_at,
           round(sum(amount), {AMOUNT_DECIMALS}) AS order_value, sum(items) AS items
    FROM {ORDER_PARTS_TABLE}
    WHERE NOT is_return AND invoice_id IS NOT NULL
    GROUP BY invoice_id
"""

# One DISTINCT subquery per count: faster and leaner than count(DISTINCT) in one aggregate.
OVERVIEW_SQL = f"""
    WITH totals AS (
        SELECT coalesce(sum(lines), 0)::BIGINT AS lines,
               coalesce(round(sum(amount), {AMOUNT_DECIMALS}), 0) AS net_revenue,
               coalesce(sum(lines) FILTER (WHERE is_return), 0)::BIGINT AS return_lines,
               coalesce(sum(outlier_lines), 0)::BIGINT AS outlier_lines
        FROM {ORDER_PARTS_TABLE}
    ),
    bounds AS ({DATE_BOUNDS_SQL}),
    customers AS (SELECT count(v) AS n FROM (SELECT DISTINCT customer_id AS v FROM {ORDER_PARTS_TABLE})),
    orders AS (SELECT count(v) AS n FROM (SELECT DISTINCT invoice_id AS v FROM {ORDER_PARTS_TABLE} WHERE NOT is_return)),
    products AS (SELECT count(v) AS n FROM (SELECT DISTINCT product AS v FROM {PRODUCTS_TABLE})),
    countries AS (SELECT count(v) AS n FROM (SELECT DISTINCT country AS v FROM {ORDER_PARTS_TABLE}))
    SELECT totals.lines, customers.n AS customers, orders.n AS purchase_orders,
           products.n AS products, countries.n AS countries, bounds.first_date, bounds.last_date,
           totals.net_revenue, totals.return_lines, totals.outlier_lines
    FROM totals, bounds, customers, orders, products, countries
"""

MONTHLY_SQL = f"""
    WITH by_month AS (
        SELECT date_trunc('month', first_at) AS month,
               round(sum(amount), {AMOUNT_DECIMALS}) AS net_revenue,
               count(DISTINCT invoice_id) FILTER (WHERE NOT is_return) AS orders,
               count(DISTINCT customer_id) FILTER (WHERE NOT is_return) AS active_customers
        FROM {ORDER_PARTS_TABLE}
        WHERE first_at IS NOT NULL
        GROUP BY month
    ),
    months AS (
        SELECT unnest(generate_series(min(month), max(month), INTERVAL 1 MONTH)) AS month
        FROM by_month
    )
    SELECT months.month,
           coalesce(by_month.net_revenue, 0) AS net_revenue,
           coalesce(by_month.orders, 0) AS orders,
           coalesce(by_month.active_customers, 0) AS active_customers
    FROM months LEFT JOIN by_month USING (month)
    ORDER BY months.month
"""

_COUNTRY_OR_UNKNOWN = "coalesce(country, 'Unknown')"  # of `ORDER_PARTS_TABLE`, blanks already missing
# Distinct counts as DISTINCT pairs counted per country.
COUNTRY_SQL = f"""
    WITH revenue AS (
        SELECT {_COUNTRY_OR_UNKNOWN} AS country, sum(amount) AS revenue
        FROM {ORDER_PARTS_TABLE}
        GROUP BY 1
    ),
    reach AS (
        SELECT country, count(*) AS customers
        FROM (SELECT DISTINCT {_COUNTRY_OR_UNKNOWN} AS country, customer_id FROM {ORDER_PARTS_TABLE}) AS pairs
        GROUP BY country
    ),
    orders AS (
        SELECT country, count(*) AS orders
        FROM (SELECT DISTINCT {_COUNTRY_OR_UNKNOWN} AS country, invoice_id FROM {ORDER_PARTS_TABLE}
              WHERE NOT is_return AND invoice_id IS NOT NULL) AS pairs
        GROUP BY country
    ),
    totals AS (
        SELECT round(sum(revenue), {AMOUNT_DECIMALS}) AS revenue,
               (SELECT count(*) FROM (SELECT DISTINCT customer_id FROM {ORDER_PARTS_TABLE}) AS ids) AS customers
        FROM revenue
    )
    SELECT revenue.country,
           round(revenue.revenue, {AMOUNT_DECIMALS}) AS net_revenue,
           reach.customers,
           coalesce(orders.orders, 0) AS orders,
           round(revenue.revenue, {AMOUNT_DECIMALS}) / nullif(totals.revenue, 0) AS revenue_share,
           reach.customers / totals.customers AS customer_share
    FROM revenue
    JOIN reach USING (country)
    LEFT JOIN orders USING (country)
    CROSS JOIN totals
    ORDER BY net_revenue DESC, revenue.country
"""

# Revenue, quantity and descriptions from `PRODUCTS_TABLE`; the distinct orders and
# customers of the top n need their lines, read from the file for those products alone:
# by product id, and by description only where the id is missing (trimming every
# description took most of the 4.1 s at 100M lines).
TOP_PRODUCTS_SQL = f"""
    WITH totals AS (SELECT round(sum(amount), {AMOUNT_DECIMALS}) AS revenue FROM {PRODUCTS_TABLE}),
    ranked AS (
        SELECT product AS product_id, round(sum(amount), {AMOUNT_DECIMALS}) AS net_revenue,
               sum(quantity) AS quantity
        FROM {PRODUCTS_TABLE}
        WHERE product IS NOT NULL
        GROUP BY product
        ORDER BY net_revenue DESC, product_id
        LIMIT $n
    ),
    reach AS (
        SELECT product_id,
               count(DISTINCT invoice_id) FILTER (WHERE NOT is_return) AS orders,
               count(DISTINCT customer_id) AS customers
        FROM (SELECT product_id, customer_id, invoice_id, is_return FROM {SOURCE}
              WHERE product_id IN (SELECT product_id FROM ranked)
              UNION ALL
              SELECT {_DESCRIPTION}, customer_id, invoice_id, is_return FROM {SOURCE}
              WHERE product_id IS NULL AND {_DESCRIPTION} IN (SELECT product_id FROM ranked)) AS top_lines
        GROUP BY product_id
    ),
    labels AS (
        SELECT product AS product_id, first(description ORDER BY lines DESC, description) AS description
        FROM {PRODUCTS_TABLE}
        WHERE description IS NOT NULL AND product IN (SELECT product_id FROM ranked)
        GROUP BY product
    )
    SELECT ranked.product_id, labels.description, ranked.net_revenue,
           ranked.net_revenue / nullif(totals.revenue, 0) AS revenue_share,
           ranked.quantity, reach.orders, reach.customers
    FROM ranked
    JOIN reach USING (product_id)
    LEFT JOIN labels USING (product_id)
    CROSS JOIN totals
    ORDER BY ranked.net_revenue DESC, ranked.product_id
"""

# The purchase orders (`ORDERS_SQL`) are a shared table too, read by the weekday, hour and
# histogram queries ({orders}: `helpers.eda.purchase_orders`).
ORDERS_TABLE = "eda_purchase_orders"
WEEKDAY_SQL = """
    WITH counts AS (
        SELECT isodow(ordered_at) AS iso_day, count(*) AS orders
        FROM ({orders}) WHERE ordered_at IS NOT NULL
        GROUP BY iso_day
    )
    SELECT days.iso_day - 1 AS weekday, coalesce(counts.orders, 0) AS orders
    FROM range(1, 8) AS days(iso_day) LEFT JOIN counts USING (iso_day)
    ORDER BY weekday
"""

HOUR_SQL = """
    WITH counts AS (
        SELECT hour(ordered_at) AS hour, count(*) AS orders
        FROM ({orders}) WHERE ordered_at IS NOT NULL
        GROUP BY hour
    )
    SELECT hours.hour, coalesce(counts.orders, 0) AS orders
    FROM range(0, 24) AS hours(hour) LEFT JOIN counts USING (hour)
    ORDER BY hour
"""

# Per customer, one pass over the lines sums what needs the lines (`CUSTOMER_LINES_WITH_*`)
# and counts the distinct products: one bit per product (numbered by `PRODUCT_CODES_SQL`) in
# a bitmap per customer, when they fit in `helpers.eda.PRODUCT_BITMAP_SHARE` of the memory
# limit (each thread keeps bitmaps of its own, which DuckDB cannot spill); otherwise
# DISTINCT (customer, product) pairs are counted first, on their own (their hash table spills
# to disk). When every thread's bitmaps for all customers do not fit, the customers are split
# by a hash of their id into parts ({part}), one pass each (`helpers.eda._bitmap_parts`).
# 100M lines (873K customers, 4,000 products, 1.8 GiB): two threads' bitmaps for everyone ran
# out of memory; one thread took 10.2 s and 0.7 GiB (the whole customer table 14.3 s), the
# pairs 11.9 s and 2.0 GiB; two parts on two threads 3.7 s each (the table 10.1 s). Orders and
# the main country come from `ORDER_PARTS_TABLE`.
_PURCHASED_PRODUCTS = f"""SELECT customer_id, {_PRODUCT_KEY} AS product FROM {SOURCE}
              WHERE NOT is_return AND {_PRODUCT_KEY} IS NOT NULL"""
CUSTOMER_PRODUCT_PAIRS = f"""
        SELECT customer_id, count(*) AS distinct_products
        FROM (SELECT DISTINCT customer_id, product FROM ({_PURCHASED_PRODUCTS})) AS pairs
        GROUP BY customer_id
    """
PRODUCT_CODES_TABLE = "eda_product_codes"
PRODUCT_CODES_SQL = f"""
    CREATE OR REPLACE TEMP TABLE {PRODUCT_CODES_TABLE} AS
    SELECT product, (row_number() OVER (ORDER BY product) - 1)::INTEGER AS code
    FROM {PRODUCTS_TABLE}
    WHERE product IS NOT NULL
    GROUP BY product
    HAVING sum(purchase_lines) > 0
"""
# Products bought and customers with a purchase: the bitmaps' size (the second an upper
# bound of the customers with a product bought).
BITMAP_SIZE_SQL = f"""
    SELECT (SELECT count(DISTINCT product) FROM {PRODUCTS_TABLE} WHERE product IS NOT NULL AND purchase_lines > 0),
           (SELECT count(DISTINCT customer_id) FROM {ORDER_PARTS_TABLE} WHERE NOT is_return)
"""
CUSTOMER_PRODUCTS_TABLE = "eda_customer_products"  # distinct products per customer, while `customer_summary` runs
_CUSTOMER_LINES = f"""
        SELECT customer_id,
               {NET_REVENUE} AS net_revenue,
               min(invoice_date) FILTER (WHERE NOT is_return) AS first_purchase,
               max(invoice_date) FILTER (WHERE NOT is_return) AS last_purchase,
               count(*) AS lines,
               avg(CASE WHEN is_return THEN 1.0 ELSE 0.0 END) AS return_share{{products}}
        FROM {{lines}}
        GROUP BY customer_id
"""
CUSTOMER_LINES_WITH_BITMAPS = _CUSTOMER_LINES.format(
    # The lines without a customer id count no product, as on the pairs path (whose join
    # never matches a NULL id): the same table whichever way the products are counted.
    products=""",
               CASE WHEN customer_id IS NOT NULL THEN
                   bit_count(bitstring_agg(codes.code, 0, {last_code})
                             FILTER (WHERE NOT is_return AND codes.code IS NOT NULL))::BIGINT
               END AS distinct_products""",
    lines=f"""(SELECT customer_id, amount, invoice_date, is_return, {_PRODUCT_KEY} AS product FROM {SOURCE}
               WHERE {{part}}) AS lines
        LEFT JOIN {PRODUCT_CODES_TABLE} AS codes USING (product)""",
)
# The customers of part {k} of {parts} (`helpers.eda._bitmap_parts`); NULL ids hash to one part.
CUSTOMER_PART = "hash(customer_id) % {parts} = {k}"
CUSTOMER_PART_TABLE = "eda_customer_part_{k}"  # the per-customer rows of part k, while `customer_summary` runs
CUSTOMER_LINES_WITH_PAIRS = f"""
        SELECT totals.*, counts.distinct_products
        FROM ({_CUSTOMER_LINES.format(products="", lines=SOURCE)}) AS totals
        LEFT JOIN {CUSTOMER_PRODUCTS_TABLE} AS counts USING (customer_id)
"""
CUSTOMER_SQL = f"""
    WITH per_customer AS ({{per_customer}}),
    customer_orders AS (
        SELECT customer_id, count(*) AS orders
        FROM (SELECT DISTINCT customer_id, invoice_id FROM {ORDER_PARTS_TABLE}
              WHERE NOT is_return AND invoice_id IS NOT NULL) AS pairs
        GROUP BY customer_id
    ),
    country_lines AS (
        SELECT customer_id, country, sum(lines) AS n_lines
        FROM {ORDER_PARTS_TABLE}
        WHERE country IS NOT NULL
        GROUP BY customer_id, country
    ),
    main_country AS (
        SELECT customer_id, first(country ORDER BY n_lines DESC, country) AS country
        FROM country_lines
        GROUP BY customer_id
    )
    SELECT per_customer.customer_id,
           coalesce(customer_orders.orders, 0) AS orders,
           net_revenue, first_purchase, last_purchase, lines,
           coalesce(per_customer.distinct_products, 0) AS distinct_products,
           return_share,
           net_revenue / nullif(coalesce(customer_orders.orders, 0), 0) AS avg_order_value,
           main_country.country
    FROM per_customer
    LEFT JOIN customer_orders USING (customer_id)
    LEFT JOIN main_country USING (customer_id)
    ORDER BY per_customer.customer_id
"""
