"""The QC overview: imaging measures parsed from qc.csv and outliers flagged within cohorts."""

import numpy as np
import pandas as pd

from dlscore.qc_overview import outliers, qc_measures, robust_z


def test_robust_z_is_the_mad_score_and_zero_without_spread():
    v = pd.Series([1.0, 2.0, 3.0, 4.0, 100.0])
    mad = np.median(np.abs(v - 3.0))  # 1
    assert robust_z(v).tolist() == [0.6745 * (x - 3.0) / mad for x in v]
    assert robust_z(pd.Series([2.0, 2.0, 2.0, 7.0])).eq(0).all()  # MAD 0: nothing to flag


def test_outliers_are_judged_within_their_own_cohort():
    rng = np.random.default_rng(0)
    vol = np.r_[rng.normal(10, 1, 20), rng.normal(40, 4, 20)]
    vol[3] = 25.0  # far above its cohort (also on the log scale), unremarkable in the pooled data
    qc = pd.DataFrame({"patient_id": [f"P{i}" for i in range(40)], "cohort": ["A"] * 20 + ["B"] * 20,
                       "spacing_mm": ["0.98x0.98x3"] * 20 + ["0.8x0.8x2.5"] * 20, "tumour_volume_ml": vol,
                       "kept_slices_r1": 8, "suv_max": ""})
    m = qc_measures(qc)
    assert m.loc[0, "in_plane_mm"] == 0.98 and m.loc[25, "slice_mm"] == 2.5 and "suv_max" not in m
    notes = outliers(m)
    assert notes[3].startswith("tumour volume (mL) high, z = ")
    assert (notes.drop(3) == "").all()  # the other cohort's larger tumours and spacing are not outliers
