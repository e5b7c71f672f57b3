"""Every rule declares a pinned conda env, threads, resources and a log; pins agree with pyproject."""

import re
import tomllib
from pathlib import Path

import pytest
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


# --- each env file, installed alone, runs what its rules import -------------------------------
# Where the static import closure of a rule's steps names a package its env rightly lacks (the
# code path runs elsewhere): package -> why.
NOT_IN_JOBS = {"jsonschema": "the config is validated in the Snakemake process, not in jobs",
               "pydicom": "DICOM is read by the imaging-env rules (cohort, preprocess) only",
               "radiomics": "PyRadiomics runs in the radiomics env only",
               "torch": "networks run in the dl env only", "monai": "networks run in the dl env only",
               "tqdm": "training progress, dl env only", "lifelines": "survival steps, stats env only",
               "statsmodels": "statistics steps, stats env only", "seaborn": "statistics figures, stats env only"}


def _module_file(name: str) -> Path:
    p = REPO / "src" / Path(*name.split("."))
    return p / "__init__.py" if p.is_dir() else p.with_suffix(".py")


def _imports(name: str, top_only: bool = False) -> set[str]:
    """The modules ``name`` imports: everywhere, or (``top_only``) when it is imported (module
    and class bodies, not function bodies)."""
    import ast
    f = _module_file(name)
    pkg = name if f.name == "__init__.py" else name.rpartition(".")[0]
    tree, out = ast.parse(f.read_text()), set()
    nodes = list(ast.walk(tree))
    if top_only:
        nodes, todo = [], list(tree.body)
        while todo:
            n = todo.pop()
            if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                nodes.append(n)
                todo += [c for c in ast.iter_child_nodes(n) if isinstance(c, ast.stmt)]
    for n in nodes:
        if isinstance(n, ast.Import):
            out |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                base = ".".join(pkg.split(".")[:len(pkg.split(".")) - n.level + 1] + ([n.module] if n.module else []))
            out |= {base, *(f"{base}.{a.name}" for a in n.names)}
    return out


def _ours(names) -> set[str]:
    """The dlscore modules among ``names`` (and their parent packages)."""
    out = set()
    for i in names:
        parts = i.split(".")
        if parts[0] == "dlscore":
            out |= {p for p in (".".join(parts[:k]) for k in range(1, len(parts) + 1)) if _module_file(p).exists()}
    return out


def _closure(starts) -> tuple[set[str], set[str]]:
    """(dlscore modules, third-party packages) a job may import: the ``starts`` (a script's
    step modules) and what their functions import, each with everything they import (also
    inside functions), and what all of those import at import time, recursively."""
    import sys
    direct = set(starts) | _ours(i for s in starts for i in _imports(s))
    third = {i.split(".")[0] for m in direct for i in _imports(m) if not i.startswith("dlscore")}
    seen, todo = set(), list(direct)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            top = _imports(m, top_only=True)
            third |= {i.split(".")[0] for i in top if not i.startswith("dlscore")}
            todo += list(_ours(top))
    return seen, third - set(sys.stdlib_module_names) - {"__future__"}


def _env_modules() -> dict[str, set[str]]:
    """env file -> the modules its rules' scripts start from (their steps, settings, runlog)."""
    from collections import defaultdict

    from dlscore.cohorts import REGISTRY
    out = defaultdict(set)
    for _, rule, body in _rules():
        script = re.search(r'script:\s*\n\s*"\.\./scripts/(\w+)\.py"', body)
        text = (REPO / "workflow/scripts" / f"{script.group(1)}.py").read_text()
        mods = {f"dlscore.{m}" for m in re.findall(r"from dlscore\.(\w+(?:\.\w+)*) import", text)}
        mods |= {f"dlscore.steps.{m}" for m in re.findall(r"from dlscore\.steps import (\w+)", text)}
        env = re.search(r"conda:\s*\n\s*f\"\{ENVS\}/(\{?[\w.]+\}?)\.yaml\"", body).group(1)
        envs = {"{DL_ENV}": ["dl"], "{COHORT.env}": sorted({c.env for c in REGISTRY.values()})}.get(env, [env])
        for e in envs:
            out[e] |= mods
    return out


@pytest.mark.envs
@pytest.mark.parametrize("env", ["stats", "imaging", "radiomics", "dl"])
def test_each_env_file_installed_alone_imports_what_its_rules_use(env, tmp_path):
    """The pip section of envs/<env>.yaml in a clean venv (what `--sdm conda` builds, from this
    machine's package index) imports every dlscore module its rules reach and every package
    those modules import (also inside functions), but the ones NOT_IN_JOBS names."""
    import subprocess
    import sys
    spec = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text())
    pip = [x.split("#")[0].strip() for x in next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    res = subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          *(x for x in pip if not x.startswith("-"))], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    mods, third = _closure(_env_modules()[env])
    pinned = {x.split("==")[0].lower() for x in pip}
    dist = {"radiomics": "pyradiomics-bhklab"}  # import name -> distribution, where they differ
    needed = sorted(p for p in third if p not in NOT_IN_JOBS or dist.get(p, p).lower() in pinned)
    code = "import importlib\nfor m in %r: importlib.import_module(m)" % (sorted(mods) + needed)
    res = subprocess.run([str(venv / "bin/python"), "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"})
    assert res.returncode == 0, f"envs/{env}.yaml: {res.stderr[-2000:]}"
