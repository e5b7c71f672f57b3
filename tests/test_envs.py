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
        for m in re.finditer(r"^\s*rule(?: (\w+))?:\n(.*?)(?=^\s*rule(?: \w+)?:|\Z)", text, re.S | re.M):
            # a rule defined in a loop (one per chunk of patients) is named by its `name:`
            name = m.group(1) or re.search(r'name:\s*f"(\w+)_\{CHUNK\}"', m.group(2)).group(1)
            yield f.name, name, m.group(2)


def test_every_rule_declares_env_threads_resources_log():
    names = []
    for fname, rule, body in _rules():
        names.append(rule)
        for key in ("conda:", "threads:", "resources:", "log:", "benchmark:", "mem_mb=", "runtime="):
            assert key in body, f"{fname}: rule {rule} lacks {key}"
        env = re.search(r'conda:\s*\n\s*f"\{ENVS\}/(\w+\.yaml)"', body)
        if 'f"{ENVS}/{DL_ENV}.yaml"' in body:  # the torch build of compute.torch: cpu or cuda
            assert all((REPO / "envs" / f).exists() for f in ("dl.yaml", "dl_cuda.yaml"))
            continue
        if rule == "cohort":  # the registered cohort's own environment
            from dlscore.cohorts import REGISTRY
            assert 'f"{ENVS}/{COHORT.env}.yaml"' in body
            assert all((REPO / "envs" / f"{c.env}.yaml").exists() for c in REGISTRY.values())
            continue
        assert env and (REPO / "envs" / env.group(1)).exists(), f"rule {rule}: env file missing"
    assert {"train", "score", "preprocess", "radiomics"} <= set(names)


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


def test_the_cuda_env_differs_from_the_cpu_env_only_by_the_torch_index():
    cpu, cuda = (yaml.safe_load((REPO / "envs" / f).read_text()) for f in ("dl.yaml", "dl_cuda.yaml"))
    pip = [next(d["pip"] for d in e["dependencies"] if isinstance(d, dict)) for e in (cpu, cuda)]
    assert [x for x in pip[0] if not x.startswith("-")] == [x for x in pip[1] if not x.startswith("-")]
    assert any("whl/cpu" in x for x in pip[0]) and any("whl/cu" in x and "cpu" not in x for x in pip[1])
