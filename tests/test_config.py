import hashlib

import pytest

from dlscore.config import config_hash, data_checksums, deep_update, load_config, path_checksum
from tests.conftest import REPO


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


def test_checksum_of_a_file_is_its_sha256(tmp_path):
    f = tmp_path / "ct.nii.gz"
    f.write_bytes(b"x" * 3_000_000)  # more than one read chunk
    assert path_checksum(f) == (1, 3_000_000, hashlib.sha256(b"x" * 3_000_000).hexdigest())
    with pytest.raises(FileNotFoundError):
        path_checksum(tmp_path / "missing.nii.gz")


def test_checksum_of_a_series_folder_covers_names_and_contents_not_location(tmp_path):
    def series(root, names, payload=b"slice"):
        root.mkdir()
        for n in names:
            (root / n).write_bytes(payload + n.encode())
        return root
    a = series(tmp_path / "Jane_Doe_CT", ["1.dcm", "2.dcm"])
    b = series(tmp_path / "elsewhere", ["1.dcm", "2.dcm"])
    n, size, digest = path_checksum(a)
    assert (n, size) == (2, 20) and digest == path_checksum(b)[2]  # where it lies does not matter
    (b / "2.dcm").write_bytes(b"changed")
    assert path_checksum(b)[2] != digest
    c = series(tmp_path / "renamed", ["1.dcm", "3.dcm"], b"slice")
    assert path_checksum(c)[2] != digest

    table = data_checksums({"study": {"manifest": str(a / "1.dcm")}, "P001": {"image_ct": str(a)}}, workers=2)
    assert table.columns.tolist() == ["patient_id", "input", "files", "bytes", "sha256"]
    assert table["patient_id"].tolist() == ["study", "P001"] and table["sha256"].iloc[1] == digest
    assert "Jane_Doe" not in table.to_csv()  # paths are never written


def test_schema_documents_every_key_with_the_config_defaults():
    """Every schema key has a description; every key that is not a section has a default,
    and it equals config/config.yaml's value wherever config.yaml sets the key."""
    import yaml

    from dlscore.schema_doc import SCHEMA, is_section, schema_keys
    schema = yaml.safe_load(SCHEMA.read_text())
    defaults = yaml.safe_load((REPO / "config/config.yaml").read_text())
    undocumented, no_default, differ = [], [], []
    for path, node in schema_keys(schema):
        if not node.get("description"):
            undocumented.append(path)
        if is_section(node):
            continue
        if "default" not in node:
            no_default.append(path)
            continue
        value = defaults
        for part in path.replace("*", "sres_petct").split("."):
            value = value.get(part, KeyError) if isinstance(value, dict) else KeyError
        if value is not KeyError and value != node["default"]:
            differ.append((path, value, node["default"]))
    assert not undocumented and not no_default and not differ, (undocumented, no_default, differ)


def test_readme_parameter_tables_are_the_schema():
    from dlscore.schema_doc import tables
    readme = (REPO / "README.md").read_text()
    begin, end = "<!-- parameters: begin -->\n", "<!-- parameters: end -->"
    assert readme[readme.index(begin) + len(begin):readme.index(end)] == tables(), \
        "README parameter tables are stale: paste `python -m dlscore.schema_doc` between the markers"


def test_library_fallback_limits_are_the_config_defaults():
    """The plausibility limits used when a caller passes no config equal config.yaml's."""
    import yaml

    from dlscore.plausibility import DEFAULT_CHECKS
    assert DEFAULT_CHECKS == yaml.safe_load((REPO / "config/config.yaml").read_text())["checks"]


def test_every_shipped_study_file_is_valid_and_the_lgg_gpu_profile_overlays_the_cpu_one():
    import yaml

    from dlscore.config import check_config, deep_update, load_config
    for f in sorted((REPO / "config").glob("*.yaml")):
        if f.name in ("config.yaml", "radiomics_params.yaml", "lgg_gpu.yaml"):
            continue
        check_config(load_config(f))
    gpu = deep_update(load_config(REPO / "config/lgg.yaml"), yaml.safe_load((REPO / "config/lgg_gpu.yaml").read_text()))
    check_config(gpu)
    assert gpu["models"]["resnet_fusion"]["width"] == 64 and gpu["split"]["method"] == "kfold"


def test_the_tumour_mask_is_a_slice_channel_and_no_modality_may_take_its_name():
    from dlscore.config import _channel_problems, load_config
    cfg = load_config(REPO / "config/lgg.yaml")
    cfg["slices"]["channels"] = ["t1pre", "flair", "t1post", "mask"]
    cfg["models"]["sres_mri"]["channels"] = ["flair", "mask"]
    assert _channel_problems(cfg) == []
    cfg["imaging"]["modalities"] = ["t1pre", "flair", "t1post", "mask"]
    (err,) = _channel_problems(cfg)
    assert "named 'mask'" in str(err)
    # the distance map likewise
    cfg["imaging"]["modalities"] = ["t1pre", "flair", "t1post"]
    cfg["slices"]["channels"] = ["t1pre", "flair", "t1post", "mask", "distance"]
    cfg["models"]["sres_mri"]["channels"] = ["flair", "distance"]
    assert _channel_problems(cfg) == []
    cfg["imaging"]["modalities"] = ["t1pre", "flair", "t1post", "distance"]
    (err,) = _channel_problems(cfg)
    assert "named 'distance'" in str(err)


def test_the_zscore_region_is_checked_against_the_schema():
    from dlscore.config import check_config, load_config
    from dlscore.errors import ManifestError
    cfg = load_config(REPO / "config/lgg.yaml")
    cfg["imaging"]["normalise"]["flair"] = {"method": "zscore", "region": "otsu", "exclude_tumour": True}
    check_config(cfg)
    cfg["imaging"]["normalise"]["flair"]["region"] = "brain"
    with pytest.raises(ManifestError, match="imaging.normalise.flair.region"):
        check_config(cfg)


@pytest.mark.parametrize("spec, words", [
    ({"method": "window", "low": 400.0, "high": -1000.0}, "needs low < high"),
    ({"method": "window", "high": 400.0}, "needs low < high"),
    ({"method": "window", "low": -1000.0, "high": 400.0, "region": "otsu"}, "does not use ['region']"),
    ({"method": "zscore", "low": 0.0}, "does not use ['low']"),
    ({"method": "zscore", "regoin": "otsu"}, "did you mean 'region'"),
])
def test_a_normalisation_setting_its_method_would_ignore_or_lacks_is_refused(spec, words):
    from dlscore.config import check_config
    from dlscore.errors import ManifestError
    cfg = load_config(REPO / "config/demo.yaml")
    cfg["imaging"]["normalise"]["ct"] = spec
    with pytest.raises(ManifestError) as e:
        check_config(cfg)
    assert words in str(e.value) and "imaging.normalise.ct" in str(e.value)
