"""The SQL of the future-value model's inputs (`helpers.clv`, `helpers.clv_validation`): text only."""

# Purchase days before the analysis date: non-return lines summed per customer and calendar
# day; a day counts when that sum is positive. Shared with helpers.clv_validation.
PURCHASE_DAYS_SQL = """
    -- Exact decimal sums: a parallel float sum can differ in the last bits from run to run,
    -- and the exports must be byte-identical for the same input.
    SELECT customer_id, invoice_date::DATE AS day, sum(coalesce(amount, 0)::DECIMAL(38, 6)) AS spend
    FROM read_parquet($path)
    WHERE invoice_date < $analysis_date AND customer_id IS NOT NULL
      AND NOT coalesce(is_return, false)
    GROUP BY customer_id, day
    HAVING sum(coalesce(amount, 0)::DECIMAL(38, 6)) > 0
"""
# The purchase days are computed once per connection, file and analysis date into a
# temporary table (`purchase_days`); an earlier date (the validation's cut) reads the days
# before it from there, as a day either falls wholly before a midnight or not at all. At
# 100M lines three GROUP BYs of 78M lines became one.
PURCHASE_DAYS_TABLE = "clv_purchase_days"
PURCHASE_DAYS_CTE = f"""
days AS (SELECT customer_id, day, spend FROM {PURCHASE_DAYS_TABLE} WHERE day < $analysis_date::DATE)"""
# The first day's spend is taken out of monetary_value (arg_min: the spend of the first day).
INPUTS_SQL = "WITH " + PURCHASE_DAYS_CTE + """
SELECT customer_id,
       (count(*) - 1)::BIGINT AS frequency,
       date_diff('day', min(day), max(day))::DOUBLE AS recency,
       date_diff('day', min(day), $analysis_date::DATE)::DOUBLE AS "T",
       CASE WHEN count(*) > 1 THEN (sum(spend) - arg_min(spend, day)) / (count(*) - 1)
            ELSE 0 END::DOUBLE AS monetary_value,
       min(day) AS first_purchase
FROM days
GROUP BY customer_id
ORDER BY customer_id
"""
