"""End to end: the demo study through Snakemake, checked against the planted truth.

Runs `snakemake --cores 2 --configfile config/demo.yaml` into a temporary results folder
(~4-5 minutes on 2 CPU cores), builds the HTML report and runs `snakemake --lint`.
"""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
pytestmark = pytest.mark.slow


def _smk(*args, cwd=REPO, check=True):
    res = subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}")
    return res


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    out = tmp / "results"
    # the demo trains two modality ablations besides the fused model; one (CT-only, few
    # epochs, as a 2-member ensemble) is enough here to exercise the model-vs-model
    # comparisons and ensembles, and keeps `make test` short
    lighter = tmp / "lighter.yaml"
    lighter.write_text(yaml.safe_dump({"run_models": ["sres_petct", "sres_ct"],
                                       "models": {"sres_ct": {"epochs": 2, "patience": 2, "ensemble": 2}},
                                       "stats": {"n_boot": 1000}}))
    _smk("--cores", "2", "--configfile", "config/demo.yaml", str(lighter), "--config", f"results={out}", "--nolock",
         "-q")
    return out


def test_modality_ablation_is_compared_with_the_fused_model(demo):
    comps = pd.read_csv(demo / "tables/comparisons.csv")
    pair = comps[(comps["model"] == "sres_petct") & (comps["comparator"] == "model sres_ct")]
    assert set(pair["set"]) >= {"validation", "EXT (external)"}
    assert pair["p"].between(0, 1).all() and (pair["diff_ci_low"] <= pair["diff"]).all()


def test_ensemble_members_are_trained_and_scored(demo):
    import json
    card = json.loads((demo / "models/sres_ct/model_card.json").read_text())
    assert card["ensemble"]["members"] == 2 and len(set(card["ensemble"]["seeds"])) == 2
    hist = pd.read_csv(demo / "models/sres_ct/history.csv")
    assert sorted(hist["member"].unique()) == [1, 2]
    feats = pd.read_parquet(demo / "scores/sres_ct_features.parquet")
    assert sum(c.startswith("f") and c[1:].isdigit() for c in feats.columns) == 2 * 256  # both members' features


def test_tables_and_figures_exist(demo):
    for f in ("tables/discrimination.csv", "tables/reproducibility.csv", "tables/survival.csv",
              "tables/cutoffs.csv", "tables/qc.csv", "tables/calibration.csv", "figures/calibration_sres_petct.png",
              "tables/decision_curve.csv", "figures/dca_sres_petct.png", "figures/dls_by_label_sres_petct.png",
              "summary.html", "tables/attention_sres_petct.csv", "tables/provenance.csv", "tables/data_checksums.csv", "tables/survival_at_risk.csv",
              "figures/roc_sres_petct.png", "figures/km_sres_petct_ICI_pfs.png", "figures/km_sres_petct_ICI_os.png",
              "figures/forest_sres_petct_ICI_pfs.png", "tables/hr_difference.csv", "tables/cox_multivariable.csv",
              "figures/hyperimages.png", "figures/gradcam_sres_petct.png", "figures/deep_features_sres_petct.png",
              "models/sres_petct/model_card.json", "tables/signature_coefficients.csv",
              "figures/roc_signatures.png", "figures/radiomics_dls_heatmap.png", "qc/montages/DEV-001.png",
              "methods.md", "tables/study_flow.csv", "figures/study_flow.png", "tables/tripod_ai.csv",
              "tables/manuscript/discrimination.csv", "tables/manuscript/survival.csv", "tables/manuscript/table1.csv"):
        assert (demo / f).stat().st_size > 0, f


def test_every_figure_prints_legibly_in_its_journal_column(demo):
    """Each figure of the run is a 300 dpi PNG whose smallest text prints at >= 7 pt in the journal
    column it is drawn for (85 or 180 mm), with no two labels overlapping, and >= as ≥; a vector
    PDF of each beside it."""
    from PIL import Image

    from dlscore.plots import MIN_FONT_PT, read_legibility
    figures = sorted((demo / "figures").glob("*.png"))
    assert len(figures) > 20
    for f in figures:
        check = read_legibility(f)
        assert check is not None, f"{f.name}: written without the figure check"
        assert check["min_font_pt"] >= MIN_FONT_PT, (f.name, check)
        assert not check["overlaps"], (f.name, check["overlaps"])
        # the models are named as config display_names says (tables keep the key)
        assert not [t for t in check["texts"] for m in ("sres_petct", "sres_ct") if m in t], (f.name, check["texts"])
        with Image.open(f) as im:
            assert round(im.info["dpi"][0]) == 300, f.name
            width_mm = im.size[0] / 300 * 25.4
        assert width_mm <= check["width_mm"] * 1.01 + 1.6, (f.name, width_mm)  # + the 0.76 mm margins
        assert f.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-", f"{f.name}: no vector PDF beside it"


def test_radiomics_signature_and_fusion(demo):
    d = pd.read_csv(demo / "tables/signature_discrimination.csv")
    ext = d[d["set"] == "EXT (external)"].set_index("model")
    assert {"RAsig", "DLS", "RADLsig"} <= set(ext.index)
    assert (ext["auc_ci_low"] <= ext["auc"]).all() and (ext["auc"] <= ext["auc_ci_high"]).all()
    sel = pd.read_csv(demo / "tables/signature_selection.csv")
    assert sel["step"].str.startswith("ICC(2,1)").any()  # the demo has two raters: stability filter applied
    c = pd.read_csv(demo / "tables/signature_comparisons.csv")
    assert {"RAsig", "DLS"} <= set(c["a"]) | set(c["b"])


def test_external_auc_and_planted_hazard_ratio(demo):
    d = pd.read_csv(demo / "tables/discrimination.csv")
    d = d[(d["model"] == "sres_petct") & (d["analysis"] == "primary")].set_index("set")
    ext = d.loc["EXT (external)"]
    assert ext["auc"] >= 0.85, ext
    assert ext["auc_ci_method"] == "DeLong" and ext["auc_ci_low"] < ext["auc"] <= ext["auc_ci_high"]
    assert d["cutoff"].nunique() == 1  # the training cutoff is applied unchanged everywhere
    planted = yaml.safe_load((REPO / "config/demo.yaml").read_text())["phantom"]["survival"]["hr_pfs"]
    s = pd.read_csv(demo / "tables/survival.csv")
    s = s[s["model"] == "sres_petct"].set_index("endpoint").loc["pfs"]
    assert s["hr"] < 1, "high DLS must have the lower hazard, as planted"
    assert s["hr_ci_low"] <= planted <= s["hr_ci_high"], s
    # the planted HR is that of the true biomarker: recovered by the IHC marker's univariable Cox
    u = pd.read_csv(demo / "tables/cox_univariable.csv")
    ihc = u[(u["endpoint"] == "pfs") & (u["term"] == "high:ihc_pdl1")].iloc[0]
    assert ihc["hr_ci_low"] <= planted <= ihc["hr_ci_high"], ihc
    hd = pd.read_csv(demo / "tables/hr_difference.csv").set_index("endpoint").loc["pfs"]
    assert hd["ci_low"] < hd["diff"] < hd["ci_high"] and hd["n_boot_used"] > 0.9 * hd["n_boot"]
    r = pd.read_csv(demo / "tables/reproducibility.csv")
    pooled = r[r["set"] == "all patients with two raters"].iloc[0]
    assert pooled["form"] == "ICC2" and 0.5 < pooled["icc"] <= 1 and pooled["n"] > 50


def test_every_table_carries_the_config_hash_of_its_step(demo):
    """A table's config_hash is the hash of the settings of the step that wrote it and of the
    steps upstream of it (dlscore.settings), one value per table."""
    from dlscore.config import deep_update, load_config
    from dlscore.settings import STEPS, step_params
    cfg = deep_update(load_config(REPO / "config/demo.yaml"), yaml.safe_load((demo.parent / "lighter.yaml").read_text()))
    hashes = {step_params(cfg, s)["config_hash"] for s in STEPS}
    hashes |= {step_params(cfg, s, model=m)["config_hash"] for s in ("train", "score", "explain")
               for m in cfg["run_models"]}  # per-model tables (attention_<model>.csv)
    for f in (demo / "tables").glob("*.csv"):
        values = set(pd.read_csv(f)["config_hash"])
        assert len(values) == 1 and values <= hashes, (f.name, values)
    for table, step in (("survival", "survival"), ("discrimination", "discrimination"), ("qc", "qc_table"),
                        ("cox_univariable", "clinical_validation"), ("provenance", "provenance")):
        assert set(pd.read_csv(demo / f"tables/{table}.csv")["config_hash"]) == {step_params(cfg, step)["config_hash"]}


def test_at_risk_counts_match_the_data(demo):
    from dlscore.config import load_config
    cfg = load_config(REPO / "config/demo.yaml")
    step = cfg["survival"]["at_risk_step"]
    man = pd.read_parquet(demo / "manifest/validated.parquet")
    sc = pd.read_parquet(demo / "scores/sres_petct.parquet").query("rater == 'r1'")
    cut = pd.read_csv(demo / "tables/cutoffs.csv")["cutoff"].iloc[0]
    df = man.merge(sc, on="patient_id").query("split == 'ici'")
    risk = pd.read_csv(demo / "tables/survival_at_risk.csv").query("endpoint == 'pfs'").set_index("group")
    high = df[df["dls"] >= cut]
    for i in range(3):
        assert risk.loc["High DLS", f"t{i}"] == (high["pfs_time"] >= i * step).sum()


def test_methods_text_quotes_only_this_run(demo):
    """Every number of methods.md is a setting of the run or a value of its tables; the flow's
    counts are the tables' n."""
    from dlscore.config import load_config
    from tests.conftest import numbers_not_from
    cfg = load_config(REPO / "config/demo.yaml")
    tables = [pd.read_csv(f) for f in sorted((demo / "tables").glob("*.csv"))] + [
        pd.read_csv(demo / "manifest/splits.csv")]
    text = (demo / "methods.md").read_text()
    assert numbers_not_from(text, [cfg, {"level": 95}, *tables]) == []
    assert "sres_ct" in text and "## References" in text
    flow = pd.read_csv(demo / "tables/study_flow.csv")
    disc = pd.read_csv(demo / "tables/discrimination.csv")
    ext = disc[(disc["model"] == "sres_petct") & (disc["analysis"] == "primary") & (disc["set"] == "EXT (external)")]
    row = flow[(flow["level"] == "analysis") & (flow["set"] == "EXT (external)")].iloc[0]
    assert row["n"] == ext["n"].iloc[0] == 40 and row["excluded"] == 0


@pytest.fixture(scope="module")
def report(demo):
    """The demo's HTML report, built as the README says."""
    path = demo.parent / "report.html"
    _smk("--cores", "1", "--configfile", "config/demo.yaml", str(demo.parent / "lighter.yaml"), "--config",
         f"results={demo}", "--nolock", "--report", str(path))
    return path


def test_report_builds(demo, report):
    assert report.stat().st_size > 100_000
    html = report.read_text(errors="ignore")
    for fig in ("gradcam_sres_petct.png", "deep_features_sres_petct.png", "roc_signatures.png"):
        assert fig in html, f"{fig} missing from the report"
    # one numbering, in the order of dlscore.report_index.SECTIONS; every item named by its labels
    import json
    import re

    from dlscore.report_index import SECTIONS, VIEW_CSV, section_title
    def var(name):  # a `var <name> = {...};` line of the report's script
        return json.loads(re.search(rf"var {name} = (\{{.*\}});?\s*$", html, re.M).group(1))
    results = var("results")
    assert len(results) > 40 and all(r["labels"] and r["labels"].get("item") for r in results.values())
    categories = var("categories")
    assert set(categories) <= {section_title(s) for s in SECTIONS}, set(categories)
    assert all("Other" not in subs for subs in categories.values())  # every item under a sub-heading
    montages = [r for r in results.values() if r["labels"].get("item") == "QC montage"]
    assert len(montages) == 214 and montages[0]["labels"]["patient"]  # each patient's, by id
    assert "tables/manuscript/table1.html" in html  # a table shown inline
    # every CSV table (the full-precision download) has its rounded HTML view beside it: same
    # section, sub-heading and labels, "view" apart
    where = {path: (cat, sub) for cat, subs in categories.items() for sub, paths in subs.items() for path in paths}
    csvs = {p: r for p, r in results.items() if p.endswith(".csv")}
    assert len(csvs) > 40
    for path, r in csvs.items():
        view = str(Path(path).parent / "views" / (Path(path).stem + ".html"))
        assert view in results, f"{path}: no table view in the report"
        assert where[view] == where[path] and r["labels"]["view"] == VIEW_CSV
        assert {**results[view]["labels"], "view": ""} == {**r["labels"], "view": ""}
    assert "System Message" not in html  # no docutils error under any caption


def test_report_reads_in_a_browser(report, tmp_path):
    """Headless Chromium opens the report as a reader would (tests/browser/report_screenshots.py):
    the landing page starts at the top with the run's summary, the AUC table is shown inline and
    rounded, the QC section shows the overview by cohort. Skipped without Chromium or Playwright
    (.ci/run installs both)."""
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    from report_screenshots import chromium, screenshots
    pytest.importorskip("playwright", reason="Playwright not installed: pip install -e '.[test]'")
    if chromium() is None:
        pytest.skip("no Chromium: apt-get install chromium-headless-shell")
    texts = screenshots(report, tmp_path)
    assert "Imaging-biomarker study demo" in texts["landing"] and "summary of results" in texts["landing"]
    assert "AUC per set (discrimination.csv" in texts["table"] and "Table (rounded)" in texts["table"]
    import re
    assert not re.search(r"\d\.\d{5,}", texts["table"]), "the inline table is not rounded"
    assert "QC overview by cohort" in texts["qc"]
    for name in ("landing", "table", "qc"):
        assert (tmp_path / f"{name}.png").stat().st_size > 20_000, f"{name}.png looks empty"


@pytest.mark.parametrize("split", ["holdout", "kfold"])
def test_lint_is_clean(split, tmp_path):
    """Both shapes of the train rule (one network per model; one per model and fold) lint clean."""
    overlay = tmp_path / "split.yaml"
    overlay.write_text(yaml.safe_dump({"split": {"method": split, "k": 2}}))
    res = _smk("--lint", "--configfile", "config/demo.yaml", str(overlay), check=False)
    assert "Congratulations, your workflow is in a good condition!" in res.stdout + res.stderr, res.stdout + res.stderr


def test_frozen_weights_score_without_training(demo, tmp_path):
    """A model given `weights:` is scored with them (inference only): no train job, and the
    same weights give the same DLS as the study's own model."""
    weights = demo / "models/sres_petct/weights.pt"
    cfg = tmp_path / "frozen.yaml"
    spec = yaml.safe_load((REPO / "config/demo.yaml").read_text())["models"]["sres_petct"]
    cfg.write_text(yaml.safe_dump({"models": {"frozen": {**spec, "arch": "sres", "channels": ["pet", "ct", "fusion"],
                                                         "weights": str(weights), "cutoff": 0.5}},
                                   "run_models": ["sres_petct", "frozen"]}))
    args = ("--configfile", "config/demo.yaml", str(cfg), "--config", f"results={demo}", "--nolock")
    dry = _smk("-n", "--cores", "1", *args, "--forceall").stdout
    stats = dry[dry.index("Job stats"):]
    trains = [ln for ln in stats.splitlines() if ln.split()[:1] == ["train"]]
    assert trains and trains[0].split()[1] == "1", trains  # only sres_petct is trained, not `frozen`
    _smk(str(demo / "scores/frozen.parquet"), "--cores", "2", *args, "--rerun-triggers", "mtime", "-q")
    a = pd.read_parquet(demo / "scores/sres_petct.parquet")
    b = pd.read_parquet(demo / "scores/frozen.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_report_captions_render_without_docutils_errors(tmp_path):
    """Every caption of the Snakemake report is valid reStructuredText: a stray `|x|` (a
    substitution reference) printed "ERROR/3 Undefined substitution" under nine tables. The
    landing text (workflow.rst, a Jinja template as Snakemake renders it) is checked for a
    study with a summary, one without, and a feature-only study."""
    import io
    from types import SimpleNamespace

    from docutils.core import publish_parts
    from jinja2 import Environment
    summary = tmp_path / "summary.html"
    summary.write_text("<html><body><h2>demo: summary of results</h2></body></html>")
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    with_summary = {"1. Summary": {"Study summary": [SimpleNamespace(path=summary)]}}
    landing = [(cfg, cats) for cfg in (config, {**config, "stop_after": "features"}) for cats in ({}, with_summary)]
    bad = {}
    for f in sorted((REPO / "workflow/report").glob("*.rst")):
        texts = [f.read_text()] if f.name != "workflow.rst" else [
            Environment().from_string(f.read_text()).render(snakemake=SimpleNamespace(config=cfg), categories=cats)
            for cfg, cats in landing]
        for text in texts:
            html = publish_parts(text, writer="html",
                                 settings_overrides={"warning_stream": io.StringIO(), "report_level": 2})["whole"]
            if "System Message" in html:
                bad[f.name] = html[html.index("System Message"):][:200]
            if f.name == "workflow.rst" and text is texts[1]:  # a whole study, its summary an item
                assert "demo: summary of results" in html  # the run's summary on the landing page
    assert not bad, bad
