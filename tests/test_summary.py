from helpers.summary import index_html

MANIFEST = {
    "run_id": "20261127-080000",
    "input": {"path": "/data/orders.csv", "sha256": "ab" * 32},
    "total_seconds": 21.4,
    "steps": [{"notebook": "01_clean", "seconds": 6.2}, {"notebook": "03_rfm", "seconds": 5.0}],
    "metrics": {
        "01_clean": {"first_date": "2010-12-01 08:26:00", "last_date": "2011-12-09 12:50:00", "customers": 4362,
                     "orders": 18402, "net_revenue": 8265476.93, "raw_rows": 541909, "kept_rows": 399656},
        "03_rfm": {"segments": [
            {"segment": "Champions", "customers": 598, "customer_share": 0.137, "revenue_share": 0.499, "action": "Reward"},
            {"segment": "<script>alert(1)</script>", "customers": 1, "customer_share": 0.0, "revenue_share": 0.0,
             "action": "<img src=x onerror=alert(1)>"},
        ]},
        "04_clustering": {"chosen_k": 4, "k_reason": "K = 4 has the best silhouette.", "silhouette": 0.41,
                          "stability_mean_ari": 0.62, "stable": False},
    },
}


def test_index_shows_headline_figures_segments_and_links():
    page = index_html(MANIFEST)
    assert "2010-12-01 to 2011-12-09" in page
    assert "4,362" in page and "8,265,476.93" in page and "541,909" in page
    assert "Champions" in page and "49.9%" in page and "13.7%" in page
    assert 'href="01_clean.html"' in page and 'href="03_rfm.html"' in page
    assert "not stable across resamples" in page and "<b>4 clusters</b>" in page and "0.62" in page
    assert "Personas at a glance" not in page  # step 05 did not run


def test_index_escapes_text_from_the_data():
    page = index_html(MANIFEST)
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_index_without_metrics_still_renders():
    page = index_html({**MANIFEST, "metrics": {}})
    assert "Step reports" in page and "Customers" not in page.split("Step reports")[0].split("</h1>")[1]


def test_index_skips_blocks_with_an_unexpected_shape():
    manifest = {**MANIFEST, "metrics": {"03_rfm": {"segments": {"Champions": 598}}}}
    assert "RFM segments at a glance" not in index_html(manifest)


def test_index_shows_predicted_value_and_churn_risk_per_persona_when_recorded():
    old = [{"persona": "Lapsing customers", "customers": 200, "customer_share": 0.66, "revenue_share": 0.2, "action": "Remind"}]
    page = index_html({**MANIFEST, "metrics": {"05_personas": {"personas": old}}})
    assert "Personas at a glance" in page and "Predicted value share" not in page and "Churn risk" not in page
    new = [{**old[0], "predicted_value_share": 0.031, "likely_lapsed_share": 0.62, "churn_high_share": 0.7},
           {**old[0], "persona": "Loyal high-value", "predicted_value_share": None, "churn_high_share": None}]
    page = index_html({**MANIFEST, "metrics": {"05_personas": {"personas": new}}})
    assert "<th class=\"num\">Predicted value share</th><th class=\"num\">Churn risk</th>" in page
    assert "<td class=\"num\">3.1%</td><td class=\"num\">70.0% high</td>" in page
    assert "<td class=\"num\"></td><td class=\"num\"></td>" in page  # a persona without the figures: blank
    assert "RFM segments at a glance" not in page
