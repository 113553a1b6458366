import importlib.util
from pathlib import Path

import pytest

from conftest import write_params
from helpers.config import DEFAULT_PARAMS, SCHEMA, _flatten, _read_yaml, load_params
from helpers.errors import UserError
from helpers.params_checks import OPTIONAL_KEYS


def test_defaults_load_and_match_the_schema_exactly():
    params = load_params()
    assert params["input"]["columns"]["customer_id"] == "CustomerID"
    assert Path(params["input"]["path"]).is_absolute()
    assert set(_flatten(_read_yaml(DEFAULT_PARAMS))) == set(SCHEMA) - OPTIONAL_KEYS  # customer-level fields: absent = null


def test_override_changes_only_its_keys_and_resolves_paths_next_to_it(tmp_path):
    (tmp_path / "shop.csv").write_text("x\n")
    override = write_params(tmp_path / "p.yaml", {"input": {"path": "shop.csv"}, "eda": {"top_n": 3}})
    params = load_params(override)
    assert params["input"]["path"] == str((tmp_path / "shop.csv").resolve())
    assert params["eda"]["top_n"] == 3
    assert params["eda"]["cohort_months"] == 12  # untouched default
    assert params["_sources"][-1] == str(override.resolve())


def test_unknown_key_names_file_key_and_suggestion(tmp_path):
    override = write_params(tmp_path / "p.yaml", {"cleaning": {"drop_exact_duplicate": False}})
    with pytest.raises(UserError, match=r"p\.yaml: unknown key 'cleaning\.drop_exact_duplicate'.*did you mean 'cleaning\.drop_exact_duplicates'"):
        load_params(override)


@pytest.mark.parametrize(
    ("tree", "key"),
    [
        ({"eda": {"top_n": "ten"}}, "eda.top_n"),
        ({"cleaning": {"returns": "keep"}}, "cleaning.returns"),
        ({"cleaning": {"drop_exact_duplicates": "yes"}}, "cleaning.drop_exact_duplicates"),
        ({"eda": {"top_n": True}}, "eda.top_n"),
    ],
)
def test_wrong_type_is_rejected_with_the_key(tmp_path, tree, key):
    with pytest.raises(UserError, match=rf"key '{key}' must be"):
        load_params(write_params(tmp_path / "p.yaml", tree))


def test_list_key_must_be_list_of_text(tmp_path):
    override = write_params(tmp_path / "p.yaml", {"cleaning": {"non_product_codes": "POST"}})
    with pytest.raises(UserError, match="must be a list of text values"):
        load_params(override)


def test_missing_params_file():
    with pytest.raises(UserError, match="params file not found"):
        load_params("/nonexistent/params.yaml")


def test_missing_input_file(tmp_path):
    override = write_params(tmp_path / "p.yaml", {"input": {"path": "nope.csv"}})
    with pytest.raises(UserError, match=r"nope\.csv: input file not found.*input\.path"):
        load_params(override)


def test_amount_or_quantity_and_price_required(tmp_path):
    override = write_params(tmp_path / "p.yaml", {"input": {"columns": {"unit_price": None}}})
    with pytest.raises(UserError, match="amount"):
        load_params(override)


def test_invalid_yaml_names_the_line(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("input:\n  path: [unclosed\n")
    with pytest.raises(UserError, match=r"p\.yaml: not valid YAML at line"):
        load_params(bad)


@pytest.mark.parametrize("size", ["2GB", "512 MiB", "1.5gb", "50%"])
def test_memory_limit_accepts_duckdb_sizes(tmp_path, size):
    params = load_params(write_params(tmp_path / "p.yaml", {"run": {"memory_limit": size}}))
    assert params["run"]["memory_limit"] == size


@pytest.mark.parametrize("size", ["lots", "2", "GB", "-1GB"])
def test_memory_limit_that_is_not_a_size_names_the_key(tmp_path, size):
    with pytest.raises(UserError, match=r"p\.yaml: key 'run\.memory_limit' .* not a size; fix: write it like 2GB"):
        load_params(write_params(tmp_path / "p.yaml", {"run": {"memory_limit": size}}))


# --------------------------------------------------------------------------------------
# Issue 12: every param validated before any step runs, every problem reported at once
# --------------------------------------------------------------------------------------


def _problems(tmp_path, tree) -> str:
    """Load an override `tree` that must fail; return the one-line message."""
    with pytest.raises(UserError) as caught:
        load_params(write_params(tmp_path / "p.yaml", tree))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_two_typos_are_reported_at_once(tmp_path):
    message = _problems(tmp_path, {"cleaning": {"drop_exact_duplicate": False}, "eda": {"topn": 5},
                                   "clustering": {"n_init": 0}})
    assert message.startswith(f"{tmp_path / 'p.yaml'}: 3 problems: ")
    assert "unknown key 'cleaning.drop_exact_duplicate' (fix: did you mean 'cleaning.drop_exact_duplicates'?)" in message
    assert "unknown key 'eda.topn' (fix: did you mean 'eda.top_n'?)" in message
    assert "key 'clustering.n_init' must be >= 1, got 0 (fix: use e.g. 10)" in message


def test_problems_in_the_default_file_and_the_override_are_reported_together(tmp_path, monkeypatch):
    import helpers.config as config

    defaults = tmp_path / "defaults.yaml"
    defaults.write_text(DEFAULT_PARAMS.read_text(encoding="utf-8").replace("top_n: 10", "top_n: ten"), encoding="utf-8")
    monkeypatch.setattr(config, "DEFAULT_PARAMS", defaults)
    shipped = config.PROJECT_ROOT  # the real files, not next to the copy
    message = _problems(tmp_path, {"input": {"path": str(shipped / "data" / "raw" / "online_retail.csv.gz")},
                                   "rfm": {"movement_day": 30, "segment_map": str(shipped / "src" / "helpers" / "segment_map.csv")}})
    assert message.startswith("2 problems: ")
    assert f"{defaults}: key 'eda.top_n' must be an integer" in message
    assert f"{tmp_path / 'p.yaml'}: unknown key 'rfm.movement_day'" in message


def test_a_single_problem_keeps_the_one_line_wording(tmp_path):
    message = _problems(tmp_path, {"clustering": {"n_init": 0}})
    assert message == f"{tmp_path / 'p.yaml'}: key 'clustering.n_init' must be >= 1, got 0; fix: use e.g. 10"


def test_a_bad_type_does_not_also_fail_the_range_checks_that_read_it(tmp_path):
    message = _problems(tmp_path, {"clustering": {"k_min": "three", "k_max": 3}})
    assert "key 'clustering.k_min' must be an integer" in message and "problems" not in message


def test_env_salt_with_the_variable_unset_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("ECOMSEG_TEST_SALT", raising=False)
    tree = {"privacy": {"pseudonymize_ids": True, "salt": "env:ECOMSEG_TEST_SALT"}}
    message = _problems(tmp_path, tree)
    assert "key 'privacy.salt' reads the environment variable 'ECOMSEG_TEST_SALT', which is not set" in message
    assert "fix: export ECOMSEG_TEST_SALT=" in message
    monkeypatch.setenv("ECOMSEG_TEST_SALT", "  ")
    assert "ECOMSEG_TEST_SALT" in _problems(tmp_path, tree)
    monkeypatch.setenv("ECOMSEG_TEST_SALT", "pepper")
    assert load_params(write_params(tmp_path / "p.yaml", tree))["privacy"]["salt"] == "env:ECOMSEG_TEST_SALT"


def test_env_salt_is_not_needed_without_pseudonymized_ids(tmp_path, monkeypatch):
    monkeypatch.delenv("ECOMSEG_TEST_SALT", raising=False)
    load_params(write_params(tmp_path / "p.yaml", {"privacy": {"salt": "env:ECOMSEG_TEST_SALT"}}))


@pytest.mark.parametrize(("size", "wanted"), [("1000%", "a share of RAM above 0% and at most 100%"),
                                              ("0%", "a share of RAM above 0% and at most 100%"),
                                              ("0GB", "at least 1MB"), ("100KB", "at least 1MB")])
def test_memory_limit_out_of_range_blames_the_key(tmp_path, size, wanted):
    message = _problems(tmp_path, {"run": {"memory_limit": size}})
    assert f"p.yaml: key 'run.memory_limit' is {size!r}" in message and wanted in message


@pytest.mark.parametrize("size", ["100%", "0.5%", "1MB", "8GB"])
def test_memory_limit_edges_that_duckdb_accepts(tmp_path, size):
    load_params(write_params(tmp_path / "p.yaml", {"run": {"memory_limit": size}}))


def test_engine_settings_keys_are_checked(tmp_path):
    message = _problems(tmp_path, {"run": {"threads": 0}})
    assert "key 'run.threads' must be" in message and "got 0" in message
    params = load_params(write_params(tmp_path / "p.yaml", {"run": {"threads": 2, "temp_dir": "work"}}))
    assert params["run"]["threads"] == 2 and params["run"]["temp_dir"] == str(tmp_path / "work")
    assert load_params()["run"]["threads"] is None


@pytest.mark.parametrize(("absent", "text"), [
    (("pyspark",), "but pyspark is not installed; fix: run make setup-spark"),
    (("pyspark", "sqlglot"), "but pyspark and sqlglot are not installed; fix: run make setup-spark"),
])
def test_a_spark_engine_without_the_extra_names_what_is_missing(tmp_path, monkeypatch, absent, text):
    # The check asks importlib where each module is: here only the `absent` ones are missing.
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None if name in absent else object())
    assert text in _problems(tmp_path, {"engine": {"kind": "spark"}})


def test_k_min_above_k_max(tmp_path):
    message = _problems(tmp_path, {"clustering": {"k_min": 6, "k_max": 4}})
    assert "key 'clustering.k_max' must be >= clustering.k_min (6), got 4" in message


@pytest.mark.parametrize(
    ("block", "text"),
    [
        ({"n_init": 0}, "key 'clustering.n_init' must be >= 1, got 0"),
        ({"k_min": 1}, "key 'clustering.k_min' must be >= 2, got 1"),
        ({"k": 1}, "key 'clustering.k' must be null (pick K by the rule) or >= 2, got 1"),
        ({"k": 2000}, "key 'clustering.k' is 2000, more than a quarter of the 5000 customers"),
        ({"bootstrap_resamples": 1}, "key 'clustering.bootstrap_resamples' must be >= 2, got 1"),
        ({"sample_size": 10}, "key 'clustering.sample_size' must be >= 100, got 10"),
        ({"scan_sample_size": 0}, "key 'clustering.scan_sample_size' must be >= 100, got 0"),
        ({"test_size": 1}, "key 'clustering.test_size' must be > 0 and < 1, got 1"),
        ({"stability_threshold": 1.5}, "key 'clustering.stability_threshold' must be > 0 and < 1, got 1.5"),
        ({"min_cluster_share": 1.0}, "key 'clustering.min_cluster_share' must be >= 0 and < 1, got 1.0"),
        ({"silhouette_tolerance": -0.1}, "key 'clustering.silhouette_tolerance' must be >= 0 and < 1, got -0.1"),
        ({"dbscan_min_samples": -1}, "key 'clustering.dbscan_min_samples' must be >= 0, got -1"),
        ({"features": [], "log_features": []}, "key 'clustering.features' is empty"),
        ({"features": ["monetary", "monetary"], "log_features": []}, "key 'clustering.features' names 'monetary' twice"),
        ({"log_features": ["age"]}, "key 'clustering.log_features': 'age' is not in clustering.features"),
    ],
)
def test_clustering_settings_out_of_range(tmp_path, block, text):
    message = _problems(tmp_path, {"clustering": block})
    assert text in message and "fix: " in message


def test_clustering_defaults_pass_the_run_time_checks_too():
    from helpers.cluster import ClusterSettings

    params = load_params()
    ClusterSettings.from_params(params["clustering"], seed=params["run"]["seed"])


def test_every_bad_persona_override_is_reported(tmp_path):
    overrides = {"loyal_hgh_value": {"name": "VIP"}, "lapsing": {"nmae": "X", "actions": []}, 3: "Trade"}
    message = _problems(tmp_path, {"personas": {"overrides": overrides}})
    assert "4 problems" in message
    for text in ("personas.overrides.loyal_hgh_value': unknown rule (fix: did you mean 'loyal_high_value'?)",
                 "personas.overrides.lapsing.nmae': unknown field (fix: did you mean 'name'?)",
                 "personas.overrides.lapsing.actions' must be a list of 1 to 3 non-empty texts",
                 "personas.overrides.3' must be a mapping"):
        assert text in message


def test_persona_overrides_checked_twice_give_the_same_result():
    """05_personas checks the overrides, then name_personas checks its output again."""
    from helpers.personas import check_overrides

    once = check_overrides({"loyal_high_value": {"name": "VIP regulars", "actions": ["Invite to the VIP evening"]},
                            "3": {"name": " Trade "}})
    assert once == {"loyal_high_value": {"name": "VIP regulars", "actions": ("Invite to the VIP evening",)},
                    3: {"name": "Trade"}}
    assert check_overrides(once) == once


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        ({"input": {"columns": {"amount": "Quantity"}}},
         "keys 'input.columns.quantity' and 'input.columns.amount' both name column 'Quantity'"),
        ({"customers_input": {"columns": {"region": "country"}}},
         "keys 'customers_input.columns.country' and 'customers_input.columns.region' both name column 'country'"),
        ({"sessions_input": {"columns": {"clicks": "pages_viewed"}}},
         "keys 'sessions_input.columns.pages_viewed' and 'sessions_input.columns.clicks' both name column"),
    ],
)
def test_one_source_column_mapped_to_two_fields(tmp_path, tree, text):
    message = _problems(tmp_path, tree)
    assert text in message and "fix: map each field to its own column" in message


def test_the_same_column_name_in_two_tables_is_fine(tmp_path):
    load_params(write_params(tmp_path / "p.yaml", {"customers_input": {"columns": {"country": "Country"}}}))


def test_quartiles_with_the_five_level_map_is_refused(tmp_path):
    message = _problems(tmp_path, {"rfm": {"scoring": "quartiles"}})
    assert "key 'rfm.segment_map'" in message and "rfm.scoring 'quartiles'" in message
    for segment in ("Champions", "New Customers", "Can't Lose Them"):
        assert segment in message
    assert "segment_map_quartiles.csv (made for scores 1-4)" in message


def test_quartiles_with_the_quartile_map_loads(tmp_path):
    quartile_map = DEFAULT_PARAMS.parent / "src" / "helpers" / "segment_map_quartiles.csv"
    tree = {"rfm": {"scoring": "quartiles", "segment_map": str(quartile_map)}}
    assert load_params(write_params(tmp_path / "p.yaml", tree))["rfm"]["segment_map"] == str(quartile_map)


def test_recency_cut_points_with_quartiles_need_a_map_for_f_scores_1_to_4(tmp_path):
    tree = {"rfm": {"scoring": "quartiles", "cuts": {"recency": [14, 30, 90, 180]}}}
    message = _problems(tmp_path, tree)
    assert "Can't Lose Them" in message and "Champions" not in message


def test_the_quartile_map_names_every_segment_within_scores_1_to_4():
    from helpers.rfm import load_segment_map

    shipped = load_segment_map(DEFAULT_PARAMS.parent / "src" / "helpers" / "segment_map_quartiles.csv")
    five = load_segment_map(DEFAULT_PARAMS.parent / "src" / "helpers" / "segment_map.csv")
    inner = shipped[(shipped["r_score"] <= 4) & (shipped["f_score"] <= 4)]
    assert set(inner["segment"].astype(str)) == set(shipped["segment"].cat.categories)
    assert list(shipped["segment"].cat.categories) == list(five["segment"].cat.categories)
    top = inner.set_index(["r_score", "f_score"])["segment"]
    assert top[(4, 4)] == "Champions" and top[(1, 1)] == "Lost" and top[(4, 1)] == "New Customers"


@pytest.mark.parametrize(
    ("rfm", "text"),
    [
        ({"cuts": {"frequency": [1, 2, 3]}}, "key 'rfm.cuts.frequency': expected 4 increasing numbers, got [1, 2, 3]"),
        ({"cuts": {"monetary": [100, 50, 300, 900]}}, "key 'rfm.cuts.monetary': expected 4 increasing numbers"),
        ({"scoring": "cuts", "cuts": {"frequency": [1, 2, 3, 5]}},
         "keys 'rfm.cuts.recency', 'rfm.cuts.monetary' are empty but rfm.scoring is 'cuts'"),
        ({"analysis_date": "2011-13-45"}, "key 'rfm.analysis_date': '2011-13-45' is not a date"),
    ],
)
def test_rfm_settings_that_would_fail_in_03_rfm(tmp_path, rfm, text):
    message = _problems(tmp_path, {"rfm": rfm})
    assert text in message and "fix: " in message


def test_a_complete_set_of_cut_points_loads(tmp_path):
    cuts = {"recency": [14, 30, 90, 180], "frequency": [1, 2, 3, 5], "monetary": [100, 300, 1000, 3000]}
    load_params(write_params(tmp_path / "p.yaml", {"rfm": {"scoring": "cuts", "cuts": cuts, "analysis_date": "2011-12-10"}}))


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        ({"cleaning": {"non_product_patterns": ["(?=gift)"]}},
         "key 'cleaning.non_product_patterns': '(?=gift)' is not a regular expression DuckDB understands"),
        ({"cleaning": {"non_product_patterns": [""]}}, "key 'cleaning.non_product_patterns' has an empty entry"),
        ({"cleaning": {"cancellation_prefixes": ["C", ""]}}, "key 'cleaning.cancellation_prefixes' has an empty entry"),
        ({"privacy": {"personal_column_patterns": ["[unclosed"]}},
         "key 'privacy.personal_column_patterns': '[unclosed' is not a regular expression"),
        ({"input": {"csv": {"encoding": "latin-9x"}}}, "key 'input.csv.encoding': 'latin-9x' is not a known encoding"),
        ({"input": {"date_format": "DD/MM/YYYY"}}, "key 'input.date_format': 'DD/MM/YYYY' is not a strptime format"),
        ({"input": {"csv": {"header_rows_to_skip": -1}}}, "key 'input.csv.header_rows_to_skip' must be >= 0, got -1"),
        ({"input": {"excel": {"header_row": 0}}}, "key 'input.excel.header_row' must be >= 1, got 0"),
        ({"eda": {"cohort_months": 0}}, "key 'eda.cohort_months' must be >= 1, got 0"),
        ({"run": {"seed": -1}}, "key 'run.seed' must be between 0 and 4294967295, got -1"),
        ({"personas": {"ratio": 1}}, "key 'personas.ratio' must be > 1, got 1"),
        ({"input": {"path": " "}}, "key 'input.path' is empty"),
        ({"paths": {"reports_dir": ""}}, "key 'paths.reports_dir' is empty"),
    ],
)
def test_other_params_that_would_fail_mid_run(tmp_path, tree, text):
    message = _problems(tmp_path, tree)
    assert text in message and "fix: " in message


def test_optional_inputs_need_their_id_column_and_a_known_file_type(tmp_path):
    (tmp_path / "people.txt").write_text("id\n1\n")
    (tmp_path / "visits.json").write_text("{}")
    message = _problems(tmp_path, {"customers_input": {"path": "people.txt", "columns": {"customer_id": None}},
                                   "sessions_input": {"path": "visits.json"}})
    assert "key 'customers_input.columns.customer_id' is empty while customers_input.path is set" in message
    assert "cannot tell the file type of" in message and "visits.json" in message


def test_missing_traits_file(tmp_path):
    message = _problems(tmp_path, {"personas": {"traits_file": "traits.csv"}})
    assert "traits.csv: traits file not found (key 'personas.traits_file')" in message


def test_an_empty_segment_map_or_traits_file_keeps_its_meaning(tmp_path):
    params = load_params(write_params(tmp_path / "p.yaml", {"rfm": {"segment_map": ""}, "personas": {"traits_file": ""}}))
    assert params["rfm"]["segment_map"] == "" and params["personas"]["traits_file"] == ""
