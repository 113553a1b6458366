"""The SQL of 03_rfm's customer metrics (`helpers.rfm`): text only, run on the engine's connection.

Kept apart from `helpers.rfm` so the queries read as one piece: the last line's date, the
window's totals, and the customer metrics with LIFO matching of cancellations to orders.
"""

LAST_LINE_SQL = "SELECT max(invoice_date) FROM read_parquet($path)"

# The distinct customers from a DISTINCT subquery, not count(DISTINCT ...) in the aggregate:
# at 100M lines 1.8 s of CPU instead of 4.5 s (bench/run.py --report).
TOTALS_SQL = """
SELECT (SELECT count(customer_id)
        FROM (SELECT DISTINCT customer_id FROM read_parquet($path) WHERE invoice_date < $analysis_date)),
       coalesce(sum(amount), 0), count(*)
FROM read_parquet($path) WHERE invoice_date < $analysis_date
"""

# Lines -> invoices -> cancellation matching -> customers. Every window is partitioned by
# (customer, invoice total in cents), so the work stays local however many lines there are.
METRICS_SQL = """
WITH lines AS (
    SELECT customer_id,
           -- without an invoice id, a customer's lines at one timestamp form one order
           coalesce(invoice_id, '~' || strftime(invoice_date, '%Y-%m-%d %H:%M:%S')) AS invoice_id,
           invoice_date,
           coalesce(amount, 0) AS amount,
           coalesce(is_return, false) AS is_return
    FROM read_parquet($path)
    WHERE invoice_date < $analysis_date
),
invoices AS (
    SELECT customer_id, invoice_id,
           min(invoice_date) AS invoice_date,
           sum(amount) AS total,
           bool_and(is_return) AS is_cancellation
    FROM lines
    GROUP BY customer_id, invoice_id
),
events AS MATERIALIZED (
    SELECT *,
           round(abs(total) * 100)::BIGINT AS cents,
           CASE WHEN NOT is_cancellation AND total > 0 THEN 1
                WHEN is_cancellation AND total < 0 THEN -1
                ELSE 0 END AS step
    FROM invoices
),
disputed AS (
    -- only a (customer, cents) partition with a cancellation can cancel an order: the windows
    -- below sort those few invoices instead of all (at 100M lines, 0.9M of 7.9M invoices)
    SELECT DISTINCT customer_id, cents FROM events WHERE step = -1
),
contested AS (
    SELECT events.*
    FROM events
    SEMI JOIN disputed
        ON events.customer_id IS NOT DISTINCT FROM disputed.customer_id AND events.cents = disputed.cents
),
running AS (
    SELECT *, sum(step) OVER w AS balance
    FROM contested
    WINDOW w AS (PARTITION BY customer_id, cents
                 ORDER BY invoice_date, step DESC, invoice_id ROWS UNBOUNDED PRECEDING)
),
open_orders AS (
    -- cancellations with no open order before them (their order predates the data) are
    -- skipped by lifting the floor, so depth = orders still open after this event
    SELECT *, balance - least(0, min(balance) OVER w) AS depth
    FROM running
    WINDOW w AS (PARTITION BY customer_id, cents
                 ORDER BY invoice_date, step DESC, invoice_id ROWS UNBOUNDED PRECEDING)
),
cancelled AS (
    -- an order is cancelled when the open count later drops below its own level (LIFO)
    SELECT customer_id, invoice_id
    FROM (SELECT customer_id, invoice_id,
                 step = 1 AND coalesce(min(depth) OVER w < depth, false) AS is_cancelled
          FROM open_orders
          WINDOW w AS (PARTITION BY customer_id, cents
                       ORDER BY invoice_date, step DESC, invoice_id
                       ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING))
    WHERE is_cancelled
),
matched AS (
    -- elsewhere the open count never drops: no order is cancelled
    SELECT events.*, cancelled.invoice_id IS NOT NULL AS is_cancelled
    FROM events
    LEFT JOIN cancelled
        ON events.customer_id IS NOT DISTINCT FROM cancelled.customer_id
       AND events.invoice_id = cancelled.invoice_id
),
customers AS (
    SELECT customer_id,
           count(*) FILTER (WHERE NOT is_cancellation AND NOT is_cancelled) AS frequency,
           -- cents, half away from zero, after writing the sum with 6 decimals: float noise
           -- (2.675 is stored as 2.67499999999999982) must not decide the direction
           round(sum(total)::DECIMAL(38, 6), 2) AS monetary,
           min(invoice_date) FILTER (WHERE NOT is_cancellation AND NOT is_cancelled) AS first_order_date,
           max(invoice_date) FILTER (WHERE NOT is_cancellation AND NOT is_cancelled) AS last_order_date,
           count(*) FILTER (WHERE NOT is_cancellation) AS purchase_invoices,
           count(*) FILTER (WHERE is_cancelled) AS cancelled_orders
    FROM matched
    GROUP BY customer_id
)
SELECT customer_id,
       date_diff('day', last_order_date::DATE, $analysis_date::DATE)::DOUBLE AS recency_days,
       frequency::BIGINT AS frequency,
       monetary::DOUBLE AS monetary,
       date_diff('day', first_order_date::DATE, $analysis_date::DATE)::DOUBLE AS tenure_days,
       CASE WHEN frequency > 0 THEN round((monetary / frequency)::DECIMAL(38, 6), 2) END::DOUBLE AS avg_order_value,
       CASE WHEN frequency > 1
            THEN date_diff('day', first_order_date::DATE, last_order_date::DATE) / (frequency - 1)
       END::DOUBLE AS avg_days_between_orders,
       first_order_date,
       last_order_date,
       purchase_invoices::BIGINT AS purchase_invoices,
       cancelled_orders::BIGINT AS cancelled_orders
FROM customers
ORDER BY customer_id
"""
