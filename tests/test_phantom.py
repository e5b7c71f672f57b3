import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from lifelines import CoxPHFitter

from dlscore.config import load_config
from dlscore.cohorts.phantom import planned_patients, simulate_outcomes, simulate_patient

CFG = load_config("config/demo.yaml")["phantom"]
COHORTS = {c["name"]: c for c in CFG["cohorts"]}


def test_planned_patients_follow_config():
    plan = planned_patients(CFG)
    assert len(plan) == sum(c["n"] for c in CFG["cohorts"])
    assert len({p.patient_id for p in plan}) == len(plan)
    assert {p.role for p in plan} == {"development", "external", "ici"}
    assert all(p.raters == ("r1", "r2") for p in plan if p.cohort == "DEV")


def test_patient_is_deterministic_and_independent_of_order():
    plan = planned_patients(CFG)
    a_img, a_row = simulate_patient(plan[5], COHORTS[plan[5].cohort], CFG, 11)
    simulate_patient(plan[0], COHORTS[plan[0].cohort], CFG, 11)
    b_img, b_row = simulate_patient(plan[5], COHORTS[plan[5].cohort], CFG, 11)
    assert a_row == b_row
    np.testing.assert_array_equal(sitk.GetArrayFromImage(a_img["ct"]), sitk.GetArrayFromImage(b_img["ct"]))
    _, c_row = simulate_patient(plan[5], COHORTS[plan[5].cohort], CFG, 12)
    assert c_row != a_row


def test_geometry_is_realistic():
    p = planned_patients(CFG)[0]
    img, _ = simulate_patient(p, COHORTS[p.cohort], CFG, 1)
    assert img["ct"].GetSpacing()[0] < 1.0 and img["ct"].GetSpacing()[2] >= 2.5
    assert img["pet"].GetSpacing()[0] >= 4.0          # PET is coarser and on another grid
    assert img["pet"].GetOrigin() != img["ct"].GetOrigin()
    m1 = sitk.GetArrayFromImage(img["mask_r1"]).astype(bool)
    m2 = sitk.GetArrayFromImage(img["mask_r2"]).astype(bool)
    dice = 2 * (m1 & m2).sum() / (m1.sum() + m2.sum())
    assert 0.7 < dice < 0.995                          # similar, not identical


def test_label_changes_appearance_as_documented():
    """Positives have a necrotic core: lower central PET uptake relative to the rim."""
    plan = [p for p in planned_patients(CFG) if p.cohort == "DEV"][:40]
    ratios, labels = [], []
    for p in plan:
        img, row = simulate_patient(p, COHORTS[p.cohort], CFG, 3)
        pet = sitk.Resample(img["pet"], img["ct"], sitk.Transform(), sitk.sitkLinear, 0.0)
        arr = sitk.GetArrayFromImage(pet)
        mask = sitk.GetArrayFromImage(img["mask_r1"]).astype(bool)
        from scipy import ndimage
        dist = ndimage.distance_transform_edt(mask)
        core = dist >= np.percentile(dist[mask], 80)
        ratios.append(arr[core & mask].mean() / arr[mask].max())
        labels.append(row["label"])
    ratios, labels = np.array(ratios), np.array(labels)
    assert labels.min() == 0 and labels.max() == 1
    from scipy.stats import mannwhitneyu
    assert ratios[labels == 1].mean() < ratios[labels == 0].mean() - 0.04
    assert mannwhitneyu(ratios[labels == 1], ratios[labels == 0], alternative="less").pvalue < 0.01


def test_planted_hazard_ratio_is_recovered():
    surv = CFG["survival"]
    rng = np.random.default_rng(0)
    rows = []
    for i in range(4000):
        label, ecog = int(rng.random() < 0.5), int(rng.choice(3))
        rows.append({"label": label, "ecog1": int(ecog >= 1), **simulate_outcomes(rng, label, ecog, surv)})
    df = pd.DataFrame(rows)
    cph = CoxPHFitter().fit(df[["pfs_time", "pfs_event", "label", "ecog1"]], "pfs_time", "pfs_event")
    assert np.exp(cph.params_["label"]) == pytest.approx(surv["hr_pfs"], rel=0.08)
    assert (df["os_time"] >= df["pfs_time"]).all()
    dcb = df.dropna(subset=["dcb"])
    assert ((dcb["dcb"] == 1) == (dcb["pfs_time"] > 6)).all()
