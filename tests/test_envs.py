"""Every rule declares a pinned conda env, threads, resources and a log; pins agree with pyproject."""

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _pins_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = [*project["dependencies"], *(d for extra in project.get("optional-dependencies", {}).values() for d in extra)]
    return dict(d.lower().split("==") for d in deps)


def _rules():
    for f in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = f.read_text()
        for m in re.finditer(r"^\s*rule (\w+):\n(.*?)(?=^\s*rule \w+:|\Z)", text, re.S | re.M):
            yield f.name, m.group(1), m.group(2)


def test_every_rule_declares_env_threads_resources_log():
    names = []
    for fname, rule, body in _rules():
        names.append(rule)
        for key in ("conda:", "threads:", "resources:", "log:", "benchmark:", "mem_mb=", "runtime="):
            assert key in body, f"{fname}: rule {rule} lacks {key}"
        env = re.search(r'conda:\s*\n\s*f"\{ENVS\}/(\w+\.yaml)"', body)
        if rule == "cohort":  # the registered cohort's own environment
            from dlscore.cohorts import REGISTRY
            assert 'f"{ENVS}/{COHORT.env}.yaml"' in body
            assert all((REPO / "envs" / f"{c.env}.yaml").exists() for c in REGISTRY.values())
            continue
        assert env and (REPO / "envs" / env.group(1)).exists(), f"rule {rule}: env file missing"
    assert "train" in names and "score" in names


def test_train_requests_gpu():
    body = dict((r, b) for _, r, b in _rules())["train"]
    assert "gpu=" in body


def test_env_files_pin_the_pyproject_versions():
    pins = _pins_pyproject()
    for env in (REPO / "envs").glob("*.yaml"):
        spec = yaml.safe_load(env.read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
        for line in pip:
            if line.startswith("-"):
                continue
            name, _, ver = line.partition("==")
            assert ver, f"{env.name}: {line} is not pinned"
            assert pins.get(name.lower()) == ver, f"{env.name}: {name}=={ver} but pyproject pins {pins.get(name.lower())}"
