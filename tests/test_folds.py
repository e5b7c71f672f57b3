"""Cross-validated training (split.method kfold / leave_site_out): fold assignment, the
patients each fold's network sees, out-of-fold scores, and the fold ensemble that scores
every other patient."""

import numpy as np
import pandas as pd
import pytest

from dlscore.errors import InputError, ManifestError
from dlscore.folds import fold_patients, planned_folds, site_folds, stratified_folds
from dlscore.manifest import assign_splits


def _manifest(n_dev=40, n_ext=10, seed=0):
    rng = np.random.default_rng(seed)
    dev = pd.DataFrame({"patient_id": [f"D{i:03d}" for i in range(n_dev)], "cohort": "DEV", "role": "development",
                        "label": (rng.random(n_dev) < 0.3).astype(float),
                        "site": rng.choice(["A", "B", "C", "D"], n_dev)})
    dev.loc[[3, 17], "label"] = np.nan  # unlabelled: scored, never in a fold
    ext = pd.DataFrame({"patient_id": [f"E{i:03d}" for i in range(n_ext)], "cohort": "EXT", "role": "external",
                        "label": (rng.random(n_ext) < 0.5).astype(float), "site": "X"})
    return pd.concat([dev, ext], ignore_index=True)


def test_kfold_is_a_stratified_seeded_partition_of_the_labelled_development_patients():
    man = _manifest()
    out = assign_splits(man, 0.29, 42, "kfold", 4)
    dev = out[out["split"] == "development"]
    assert len(dev) == 38 and set(dev["fold"]) == {1, 2, 3, 4}  # every labelled development patient once
    assert out.loc[out["role"] == "external", "fold"].isna().all()
    assert (out.loc[[3, 17], "split"] == "unlabelled").all() and out.loc[[3, 17], "fold"].isna().all()
    # stratified: each fold's positives within one of the even share
    pos = dev.groupby("fold")["label"].sum()
    assert pos.max() - pos.min() <= 1 and dev.groupby("fold").size().max() - dev.groupby("fold").size().min() <= 1
    again = assign_splits(man, 0.29, 42, "kfold", 4)
    assert again["fold"].equals(out["fold"])  # seeded
    assert not assign_splits(man, 0.29, 7, "kfold", 4)["fold"].equals(out["fold"])
    with pytest.raises(ManifestError, match="split.k"):  # more folds than patients of the smaller class
        assign_splits(man, 0.29, 42, "kfold", int(dev["label"].sum()) + 1)


def test_leave_site_out_holds_out_whole_institutions():
    man = _manifest()
    out = assign_splits(man, 0.29, 42, "leave_site_out", 5, "site")
    dev = out[out["split"] == "development"]
    assert (dev.groupby("fold")["site"].nunique() == 1).all()  # one site per fold
    assert (dev.groupby("site")["fold"].nunique() == 1).all()  # a site never in two folds
    assert sorted(dev.groupby("fold")["site"].first()) == sorted(dev["site"].unique())
    with pytest.raises(ManifestError, match="site"):
        assign_splits(man.drop(columns="site"), 0.29, 42, "leave_site_out", 5, "site")
    with pytest.raises(InputError, match="at least 2"):
        site_folds(pd.Series(["A", "A"], index=["p1", "p2"]))
    assert planned_folds({"method": "leave_site_out"}, ["B", "A", None, "B"]) == [1, 2]
    assert planned_folds({"method": "kfold", "k": 3}, []) == [1, 2, 3] and planned_folds({"method": "holdout"}, []) == []


def test_fixed_holdout_roles_are_refused_in_a_cross_validated_study():
    man = _manifest()
    man.loc[0, "role"] = "training"
    with pytest.raises(ManifestError, match="role 'training'"):
        assign_splits(man, 0.29, 42, "kfold", 3)


def test_each_fold_network_never_sees_its_held_out_fold_nor_stops_early_on_it():
    out = assign_splits(_manifest(), 0.25, 42, "kfold", 4)
    held = []
    for f in (1, 2, 3, 4):
        p = fold_patients(out, f, 0.25, 42)
        tr, va, ho = set(p["training"]), set(p["validation"]), set(p["held_out"])
        assert not (tr & va) and not (tr & ho) and not (va & ho)
        assert tr | va | ho == set(out.loc[out["split"] == "development", "patient_id"])
        assert ho == set(out.loc[out["fold"] == f, "patient_id"])
        lab = out.set_index("patient_id")["label"]
        assert lab[list(va)].nunique() == 2  # early stopping sees both classes
        held += p["held_out"]
    assert sorted(held) == sorted(out.loc[out["split"] == "development", "patient_id"])


def test_without_an_inner_validation_fraction_each_fold_network_learns_from_all_the_other_folds():
    out = assign_splits(_manifest(), 0, 42, "kfold", 4)
    for f in (1, 2, 3, 4):
        p = fold_patients(out, f, 0, 42)
        assert p["validation"] == []
        assert set(p["training"]) == set(out.loc[(out["split"] == "development") & (out["fold"] != f), "patient_id"])
    with pytest.raises(ManifestError, match="only cross-validated designs allow"):
        assign_splits(_manifest(), 0, 42, "holdout")


def test_stratified_folds_refuse_a_single_class():
    with pytest.raises(InputError):
        stratified_folds(pd.Series([1, 1, 1, 1]), 2, 0)


def test_out_of_fold_scores_come_from_the_fold_that_held_the_patient_out():
    from dlscore.steps.score import out_of_fold
    ens = pd.DataFrame({"patient_id": ["a", "b", "c", "x"], "rater": "r1", "dls": [0.5, 0.5, 0.5, 0.9]})
    fold_scores = {1: pd.DataFrame({"patient_id": ["a", "b"], "rater": "r1", "dls": [0.1, 0.2]}),
                   2: pd.DataFrame({"patient_id": ["c"], "rater": "r1", "dls": [0.3]})}
    out = out_of_fold(ens, fold_scores, pd.Series([1, 1, 2], index=["a", "b", "c"]))
    assert out["dls"].tolist() == [0.1, 0.2, 0.3, 0.9]
    assert out["score_source"].tolist() == ["out-of-fold (fold 1)", "out-of-fold (fold 1)", "out-of-fold (fold 2)",
                                            "mean of the 2 fold networks"]


def test_the_fold_ensemble_scores_external_patients_and_each_fold_its_own(tmp_path):
    import torch

    from dlscore.models import build_model
    from dlscore.slices import SliceSet
    from dlscore.steps.score import score
    from dlscore.steps.train import fold_ensemble
    from dlscore.train import predict_slices
    spec = {"arch": "sres", "widths": [4, 8], "n_features": 8, "dropout": 0.0, "channels": ["ct"]}
    cfg = {"seed": 1, "device": "cpu", "slices": {"channels": ["ct"]}, "split": {"method": "kfold"}}
    nets, paths = [], []
    for f in (1, 2):
        torch.manual_seed(f)
        net = build_model(spec, 1).eval()
        nets.append(net)
        d = tmp_path / f"fold{f}"
        d.mkdir()
        torch.save({"state_dict": net.state_dict(), "spec": spec, "channels": ["ct"], "slice_channels": ["ct"]},
                   d / "weights.pt")
        pd.DataFrame({"epoch": [1], "val_loss": [0.5]}).to_csv(d / "history.csv", index=False)
        (d / "model_card.json").write_text('{"fold": %d}' % f)
        paths.append(d)
    fold_ensemble(cfg, "m", [str(p / "weights.pt") for p in paths], [str(p / "history.csv") for p in paths],
                  [str(p / "model_card.json") for p in paths], str(tmp_path / "weights.pt"),
                  str(tmp_path / "history.csv"), str(tmp_path / "card.json"))
    rng = np.random.default_rng(0)
    files, images = {}, {}
    for pid in ("a", "b", "x"):
        img = rng.random((3, 1, 32, 32)).astype(np.float32)
        ss = SliceSet(img, np.arange(3), np.arange(3.0), np.full(3, 20.0), np.full(3, 30.0), ("ct",))
        ss.save(tmp_path / f"{pid}.npz")
        files[(pid, "r1")], images[pid] = str(tmp_path / f"{pid}.npz"), img
    pd.DataFrame({"patient_id": ["a", "b", "x"], "split": ["development", "development", "external"],
                  "fold": pd.array([1, 2, pd.NA], dtype="Int64")}).to_parquet(tmp_path / "validated.parquet")
    score(cfg, str(tmp_path / "weights.pt"), files, str(tmp_path / "s.parquet"), str(tmp_path / "f.parquet"),
          str(tmp_path / "att.csv"), 1, str(tmp_path / "validated.parquet"))
    got = pd.read_parquet(tmp_path / "s.parquet").set_index("patient_id")
    dev = torch.device("cpu")
    one = {f: [float(np.mean(predict_slices(nets[f - 1], images[p], dev))) for p in ("a", "b", "x")] for f in (1, 2)}
    assert got.at["a", "dls"] == pytest.approx(one[1][0], abs=1e-6)  # fold 1 held a out
    assert got.at["b", "dls"] == pytest.approx(one[2][1], abs=1e-6)
    both = np.mean([np.mean([np.mean(predict_slices(n, images["x"][i:i + 1], dev)) for n in nets]) for i in range(3)])
    assert got.at["x", "dls"] == pytest.approx(both, abs=1e-6)  # external: mean of the fold networks
    assert got.at["x", "score_source"] == "mean of the 2 fold networks"
    assert pd.read_csv(tmp_path / "history.csv")["fold"].tolist() == [1, 2]


def test_a_5_fold_study_on_the_slurm_profile_plans_5_gpu_training_jobs_per_model(tmp_path):
    """Dry run (no cluster needed) of the phantom study with kfold, k = 5, two models."""
    import re
    import subprocess
    import sys

    import yaml
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="the SLURM executor plugin is not installed")
    from .conftest import REPO
    cfg = tmp_path / "cv.yaml"
    cfg.write_text(yaml.safe_dump({"split": {"method": "kfold", "k": 5}, "survival": {"splits": ["ici"]},
                                   "run_models": ["sres_petct", "sres_ct"]}))
    res = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "-n", "--quiet", "host",
                          "--configfile",
                          "config/demo.yaml", str(cfg), "--config", f"results={tmp_path / 'results'}"],
                         cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = re.findall(r"rule train:\n(?:    .*\n)*?    wildcards: model=(\S+), fold=(\d+)\n    resources: (.*)",
                      res.stdout)
    assert sorted((m, int(f)) for m, f, _ in jobs) == [(m, f) for m in ("sres_ct", "sres_petct") for f in range(1, 6)]
    assert all("gpu=1" in r and "slurm_partition=gpu" in r for *_, r in jobs)
    assert len(re.findall(r"rule fold_ensemble:", res.stdout)) == 2  # one per model, gathering its folds


CV_SMALL = {
    "phantom": {"cohorts": [{"name": "DEV", "role": "development", "n": 24},
                            {"name": "EXT", "role": "external", "n": 8},
                            {"name": "ICI", "role": "ici", "n": 16}]},
    "imaging": {"raters": ["r1"]},
    "models": {"sres_petct": {"epochs": 3, "patience": 3}},
    "run_models": ["sres_petct"],
    "split": {"method": "kfold", "k": 3},
    "survival": {"splits": ["development", "ici"]},
    "signature": {"clinical": ["age"]},
    "qc": {"montage": False},
    "stats": {"n_boot": 200},
    "compute": {"patients_per_job": 24},  # 48 patients: two chunk jobs per step (both cores busy)
}


@pytest.mark.long
def test_a_killed_fold_resumes_alone_and_every_development_patient_is_scored_out_of_fold(tmp_path):
    """A 3-fold phantom study killed (SIGKILL, whole process group) inside one fold's
    training, after another fold finished: the rerun trains only the killed fold, from its
    checkpoint; then every development patient has exactly one out-of-fold DLS, from the
    fold that held it out, and external patients the fold ensemble's."""
    import os
    import re
    import signal
    import subprocess
    import time

    from .conftest import REPO, config_override, run_snakemake, snakemake_cmd
    cfg = config_override(tmp_path, "cv.yaml", CV_SMALL)
    res = tmp_path / "results"
    folds = res / "models/sres_petct/folds"

    def killed_inside_a_fold():
        done = [f for f in (1, 2, 3) if (folds / str(f) / "weights.pt").exists()]
        busy = [f for f in (1, 2, 3) if (folds / str(f) / "checkpoint.pt").exists() and f not in done]
        return (done, busy[0]) if done and busy else None

    with open(tmp_path / "console.log", "w") as log:
        proc = subprocess.Popen(snakemake_cmd(res, "config/demo.yaml", cfg), cwd=REPO, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    t0, state = time.time(), None
    try:
        while state is None:
            assert proc.poll() is None, (tmp_path / "console.log").read_text()[-4000:]
            assert time.time() - t0 < 1200, "no fold was being trained after another had finished"
            time.sleep(0.2)
            state = killed_inside_a_fold()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    done, busy = state
    finished = {f: (folds / str(f) / "weights.pt").stat().st_mtime_ns for f in done}
    dry = subprocess.run([a for a in snakemake_cmd(res, "config/demo.yaml", cfg) if a != "-q"] + ["-n", "--quiet", "host"],
                         cwd=REPO, capture_output=True, text=True)
    planned = sorted(int(f) for f in re.findall(r"wildcards: model=sres_petct, fold=(\d+)", dry.stdout))
    assert planned == sorted({1, 2, 3} - set(done)), dry.stdout[-3000:]  # the finished folds are not retrained
    run_snakemake(res, "config/demo.yaml", cfg)
    assert {f: (folds / str(f) / "weights.pt").stat().st_mtime_ns for f in done} == finished
    assert "resumed from checkpoint" in (res / f"logs/train/sres_petct_fold{busy}.log").read_text()

    man = pd.read_parquet(res / "manifest/validated.parquet")
    sc = pd.read_parquet(res / "scores/sres_petct.parquet").merge(man[["patient_id", "split", "fold"]],
                                                                   on="patient_id")
    dev = sc[sc["split"] == "development"]
    assert dev["patient_id"].is_unique and len(dev) == 24  # one out-of-fold DLS per development patient
    assert (dev["score_source"] == "out-of-fold (fold " + dev["fold"].astype(str) + ")").all()
    assert (sc.loc[sc["split"] != "development", "score_source"] == "mean of the 3 fold networks").all()
    cut = pd.read_csv(res / "tables/cutoffs.csv")
    assert cut["rule"].iloc[0] == "maximum Youden index on the out-of-fold development scores"
    base = pd.read_csv(res / "tables/signature_baselines.csv")
    assert {"Clinical", "RAsig", "DLS", "DLS + clinical"} <= set(base["model"])
    assert base.loc[base["model"] == "DLS", "verdict"].str.len().gt(0).all()
    assert "Cross-validated training: 3 networks" in (res / "summary.html").read_text()
