from pathlib import Path

import pytest

from conftest import write_params
from helpers.config import DEFAULT_PARAMS, SCHEMA, _flatten, _read_yaml, load_params
from helpers.errors import UserError


def test_defaults_load_and_match_the_schema_exactly():
    params = load_params()
    assert params["input"]["columns"]["customer_id"] == "CustomerID"
    assert Path(params["input"]["path"]).is_absolute()
    assert set(_flatten(_read_yaml(DEFAULT_PARAMS))) == set(SCHEMA)


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
