"""The code stays findable: no function over 60 lines and no module over 500 lines in src/
(unless a ``# size:`` comment on the ``def`` line, or in a module's first lines, says why),
no block of six or more identical lines repeated in the library or the workflow, one step
module per rule file, and a README code-layout section that names every module."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "dlscore"
MAX_FUNC, MAX_MODULE, MIN_BLOCK = 60, 500, 6


def _modules():
    return sorted(p for p in SRC.rglob("*.py") if "egg-info" not in str(p))


def _justified(line: str) -> bool:
    return "# size:" in line


def test_no_long_function_or_module():
    over = []
    for path in _modules():
        text = path.read_text()
        lines = text.splitlines()
        if len(lines) > MAX_MODULE and not any(_justified(x) for x in lines[:30]):
            over.append(f"{path.relative_to(REPO)}: {len(lines)} lines (module)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNC and not _justified(lines[node.lineno - 1]):
                    over.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}: {n} lines")
    assert not over, "split these (or justify with a '# size: <why>' comment):\n" + "\n".join(over)


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of lines that carry code: no blanks, comments, imports."""
    out = []
    for i, raw in enumerate(path.read_text().splitlines(), 1):
        s = raw.strip()
        if not s or s.startswith(("#", "import ", "from ")) or s in (")", "]", "}", '"""'):
            continue
        out.append((i, s))
    return out


def repeated_blocks(paths, size: int = MIN_BLOCK, root: Path = REPO) -> list[str]:
    """Places where ``size`` consecutive code lines occur again (in the same or another file)."""
    seen: dict[tuple, list[str]] = defaultdict(list)
    for p in paths:
        lines = _code_lines(p)
        for k in range(len(lines) - size + 1):
            window = tuple(s for _, s in lines[k:k + size])
            seen[window].append(f"{p.relative_to(root)}:{lines[k][0]}")
    return sorted({" = ".join(places[:3]) for places in seen.values() if len(places) > 1})


def test_no_repeated_blocks():
    paths = _modules() + sorted((REPO / "workflow" / "scripts").glob("*.py"))
    dup = repeated_blocks(paths)
    assert not dup, "blocks of six or more identical lines, give them one place:\n" + "\n".join(dup[:20])


def test_repeated_block_finder_finds_a_copy(tmp_path):
    block = "\n".join(f"x{i} = compute({i})" for i in range(7))
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text(block + "\n")
    b.write_text("y = 1\n" + block + "\n")
    assert repeated_blocks([a, b], root=tmp_path) and not repeated_blocks([a], root=tmp_path)


def test_one_step_module_per_rule_file():
    """``workflow/rules/<x>.smk`` runs scripts that call ``dlscore.steps.<x>``."""
    rules = {p.stem for p in (REPO / "workflow" / "rules").glob("*.smk")} - {"common"}
    steps = {p.stem for p in (SRC / "steps").glob("*.py")} - {"__init__"}
    assert rules == steps, {"rule files without a step module": rules - steps, "step modules without rules": steps - rules}
    for script in (REPO / "workflow" / "scripts").glob("*.py"):
        used = set(re.findall(r"from dlscore\.steps import (\w+)", script.read_text()))
        rule_files = [p.stem for p in (REPO / "workflow" / "rules").glob("*.smk")
                      if f'"../scripts/{script.name}"' in p.read_text()]
        assert used == set(rule_files), (script.name, used, rule_files)


def test_readme_layout_names_every_module():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Code layout"):]
    section = section[:section.index("\n## ", 5)]
    missing = [str(p.relative_to(SRC)) for p in _modules() if p.name != "__init__.py"
               and str(p.relative_to(SRC)) not in section and p.stem not in section]
    assert not missing, f"README 'Code layout' does not name: {missing}"


def test_catalogue_files_match_the_repository():
    """LICENSE agrees with pyproject; the catalogue's example config exists; config/README.md
    names every config file (a new study file without a line there fails)."""
    import tomllib

    import yaml
    root = REPO
    license_name = tomllib.loads((root / "pyproject.toml").read_text())["project"]["license"]["text"]
    assert (root / "LICENSE").read_text().startswith(f"{license_name} License")
    usage = yaml.safe_load((root / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    flags = usage["mandatory-flags"]["flags"].split()
    assert flags[0] == "--configfile" and (root / flags[1]).is_file()
    assert usage["software-stack-deployment"]["conda"] is True and usage["report"] is True
    documented = (root / "config/README.md").read_text()
    missing = [p.name for p in sorted((root / "config").glob("*.yaml")) if f"`{p.name}`" not in documented]
    assert not missing, f"config/README.md does not describe {missing}"


def test_every_report_caption_has_its_place_in_the_report_and_every_rule_uses_it():
    """dlscore.report_index names a section, sub-heading and item for every caption file, and
    the rules put outputs in the report only through `in_report` (one numbering)."""
    from dlscore.report_index import ITEMS, SECTIONS, VIEW_CAPTION
    captions = {p.stem for p in (REPO / "workflow/report").glob("*.rst")} - {"workflow"}
    assert captions == set(ITEMS) | {VIEW_CAPTION}
    assert {section for section, _, _ in ITEMS.values()} == set(SECTIONS)
    for rules in (REPO / "workflow/rules").glob("*.smk"):
        text = rules.read_text()
        assert "category=" not in text and "caption=" not in text, f"{rules.name}: report() outside in_report"
    # the landing page sends the reader to sections by their numbered titles
    import re

    from dlscore.report_index import section_title
    named = re.findall(r"\*\*(\d+\. [^*]+)\*\*", (REPO / "workflow/report/workflow.rst").read_text())
    assert named and set(named) <= {section_title(s) for s in SECTIONS}, named


def test_rules_are_snakefmt_formatted():
    """The Snakefile and rule files are as snakefmt writes them (`snakefmt Snakefile workflow/rules/`)."""
    import shutil
    import subprocess
    import sys
    exe = shutil.which("snakefmt", path=str(Path(sys.executable).parent))
    assert exe, "snakefmt is a test dependency (pyproject [test]): reinstall with `make install`"
    res = subprocess.run([exe, "--check", "Snakefile", "workflow/rules/"], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:] + "\nrun `.venv/bin/snakefmt Snakefile workflow/rules/`"


def test_catalogue_test_study_lints_clean_and_plans_the_whole_study(tmp_path):
    """.test/config/config.yaml (the catalogue's tiny phantom study) lints clean and plans every step."""
    import subprocess
    import sys
    args = [sys.executable, "-m", "snakemake", "--configfile", "config/demo.yaml", ".test/config/config.yaml",
            "--config", f"results={tmp_path / 'results'}"]
    lint = subprocess.run([*args, "--lint"], cwd=REPO, capture_output=True, text=True)
    assert "Congratulations, your workflow is in a good condition!" in lint.stdout + lint.stderr, lint.stderr[-2000:]
    dry = subprocess.run([*args, "-n"], cwd=REPO, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr[-2000:]
    stats = dry.stdout[dry.stdout.index("Job stats"):]
    assert all(f"\n{rule} " in stats for rule in ("train", "explain", "clinical_validation", "manuscript"))
