from dlscore.config import config_hash, deep_update, load_config


def test_study_file_overrides_defaults_recursively():
    cfg = load_config("config/demo.yaml")
    assert cfg["phantom"]["enabled"] is True
    assert cfg["slices"]["margin_mm"] == 20.0          # from config.yaml
    assert cfg["models"]["sres_petct"]["epochs"] == 15  # demo override, other keys kept
    assert cfg["models"]["sres_petct"]["arch"] == "sres"
    assert deep_update({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}) == {"a": {"b": 3, "c": 2}}


def test_hash_ignores_output_location_but_not_parameters():
    cfg = load_config("config/demo.yaml")
    assert config_hash(cfg) == config_hash({**cfg, "results": "elsewhere"})
    assert config_hash(cfg) != config_hash({**cfg, "seed": cfg["seed"] + 1})
