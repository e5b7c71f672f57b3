"""The real TCGA-LGG cohort: manifest builder, validation, missing sequences, smoke run.

Skipped, with the reason, when ../shared/data/lgg is absent.
"""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from dlscore.config import load_config
from dlscore.cohorts.lgg import DAYS_PER_MONTH, build_manifest
from dlscore.manifest import assign_splits, validate_manifest
from tests.conftest import REPO, SHARED_DATA

LGG = SHARED_DATA / "lgg"
pytestmark = pytest.mark.skipif(not (LGG / "patients.tsv").exists(),
                                reason=f"TCGA-LGG data not found at {LGG} (see ../shared/data/README.md)")
SEQ = ["t1pre", "flair", "t1post"]


@pytest.fixture(scope="module")
def manifest():
    return build_manifest(LGG, ["CS", "FG"])


def test_builder_roles_labels_and_outcomes(manifest):
    assert len(manifest) == 110 and manifest["patient_id"].is_unique
    ext = manifest[manifest["role"] == "external"]
    assert set(ext["site"]) == {"CS", "FG"} and set(manifest.loc[manifest["role"] == "development", "site"]) == {"DU", "HT", "EZ"}
    for _, g in manifest.groupby("role"):
        assert set(g["label"].dropna()) == {0, 1}
    clin = pd.read_csv(LGG / "clinical_tcga.csv").set_index("patient_id")
    m = manifest.set_index("patient_id")
    np.testing.assert_allclose(m["os_time"], (clin.loc[m.index, "os_days"] / DAYS_PER_MONTH).round(3))
    assert m["label"].isna().sum() == 1


def test_missing_sequences_are_kept_not_dropped(manifest):
    empty = manifest[[f"image_{s}" for s in SEQ]] == ""
    # 6 FLAIR-only patients (2 missing each) + 4 without post-contrast T1 = 10 patients, 16 sequences
    assert empty.any(axis=1).sum() == 10 and empty.to_numpy().sum() == 16
    assert (manifest["image_flair"] != "").all()
    assert (manifest.loc[manifest["sequences"] == "flair", ["image_t1pre", "image_t1post"]] == "").all().all()


def test_validation_and_splits_on_the_real_files(manifest):
    v = validate_manifest(manifest, SEQ, ["r1"], base_dir=LGG, optional=["t1pre", "t1post"])
    s = assign_splits(v, 0.29, 20261123)
    assert (s["split"] == "unlabelled").sum() == 1
    for split in ("training", "validation", "external"):
        assert set(s.loc[s["split"] == split, "label"]) == {0, 1}, split
    with pytest.raises(Exception, match="no image_t1pre given"):
        validate_manifest(manifest, SEQ, ["r1"], base_dir=LGG)  # without declaring them optional


def test_flair_only_patient_gets_zero_channels_and_no_attention(tmp_path):
    from dlscore.steps import preprocess
    from dlscore.models import build_model
    from dlscore.slices import SliceSet
    cfg = load_config(REPO / "config/lgg.yaml")
    cfg["lgg"]["data_dir"] = str(LGG)
    man = build_manifest(LGG, ["CS", "FG"], patients=["TCGA-DU-7013"])
    validate_manifest(man.assign(role="ici"), SEQ, ["r1"], optional=["t1pre", "t1post"])
    man.to_csv(tmp_path / "m.csv", index=False)  # the imaging job reads the paths from the manifest
    preprocess.imaging(cfg, str(tmp_path / "m.csv"), "TCGA-DU-7013", str(tmp_path / "pre"), str(tmp_path / "sl"))
    ss = SliceSet.load(tmp_path / "sl" / "r1.npz")
    assert ss.channels == ("t1pre", "flair", "t1post", "mask", "distance")
    assert ss.meta["present"] == ["flair", "mask", "distance"]
    assert ss.images[:, 0].max() == 0 and ss.images[:, 2].max() == 0 and ss.images[:, 1].max() > 0
    assert ss.images[:, 3].max() > 0.99  # the tumour mask channel
    assert 0.5 < ss.images[:, 4].max() < 1 and ss.images[:, 4].min() < 0.5  # its distance map
    model = build_model({"arch": "seqfusion", "depth": 18, "width": 4}, 3).eval()
    with torch.no_grad():
        model(torch.from_numpy(ss.images[:, :3]))
    att = model.last_attention.numpy()
    np.testing.assert_allclose(att[:, [0, 2]], 0.0, atol=1e-7)
    np.testing.assert_allclose(att.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.slow
def test_smoke_run_on_a_few_patients(tmp_path):
    clin = pd.read_csv(LGG / "clinical_tcga.csv").dropna(subset=["idh_mutant"])
    site = clin["patient_id"].str.split("-").str[1]
    pick = []
    for ext in (True, False):
        sub = clin[site.isin(["CS", "FG"]) == ext]
        for lab in (0, 1):
            pick += sub.loc[sub["idh_mutant"] == lab, "patient_id"].head(3 if ext else 5).tolist()
    pick += ["TCGA-DU-7013", "TCGA-FG-A60K"]  # FLAIR-only patients
    out = tmp_path / "results"
    smoke = {"results": str(out), "lgg": {"data_dir": str(LGG), "patients": sorted(set(pick))},
             "stats": {"n_boot": 200}, "split": {"k": 3},  # the config's k-fold design, 3 folds for 10 patients
             "compute": {"patients_per_job": 9},  # 18 patients: two chunk jobs per step
             "models": {"sres_mri": {"epochs": 2, "widths": [4, 8, 8, 8], "n_features": 16, "ensemble": 1},
                        "resnet_fusion": {"epochs": 1, "depth": 18, "width": 4, "n_features": 16}}}
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump(smoke))
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--nolock", "-q", "--configfile",
                          "config/lgg.yaml", str(tmp_path / "smoke.yaml")], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-5000:]
    d = pd.read_csv(out / "tables/discrimination.csv")
    assert {"TCGA-CS-FG (external)", "development"} <= set(d["set"])
    assert len(list((out / "models/resnet_fusion/folds").iterdir())) == 3
    assert set(d["label"]) == {"IDH mutant", "grade_g3", "codel_1p19q"}
    rep = pd.read_csv(out / "tables/reproducibility.csv")
    assert rep["note"].str.contains("only one rater").all()
    att = pd.read_csv(out / "tables/attention_resnet_fusion.csv").set_index("patient_id")
    assert att.loc["TCGA-DU-7013", "attention_t1pre"] == 0 and att.loc["TCGA-DU-7013", "attention_flair"] == pytest.approx(1)
    sig = pd.read_csv(out / "tables/signature_discrimination.csv")
    assert {"RAsig", "DLS"} <= set(sig["model"])
    for f in ("tables/calibration.csv", "tables/survival.csv", "figures/roc_resnet_fusion.png",
              "figures/roc_signatures.png", "tables/signature_coefficients.csv",
              "figures/km_sres_mri_TCGA-CS-FG_os.png", "tables/signature_baselines.csv", "summary.html"):
        assert (out / f).stat().st_size > 0, f
