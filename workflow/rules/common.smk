# Shared definitions: the study plan (patients, raters, files) and path helpers.
import re
import sys

sys.path.insert(0, SRC)

from dlscore.study import development_patients, manifest_path, plan_patients, set_slugs

R = config["results"]
MANIFEST = manifest_path(config)
PLAN = plan_patients(config)
PATIENT = {p.patient_id: p for p in PLAN}
PIDS = list(PATIENT)
DEV_PIDS = development_patients(PLAN)
SURVIVAL_SETS = set_slugs(PLAN, config["survival"]["splits"])
MODELS = list(config["run_models"])
ENDPOINTS = list(config["survival"]["endpoints"])
ENVS = str(Path(workflow.basedir) / "envs")

wildcard_constraints:
    pid="|".join(map(re.escape, PIDS)) if PIDS else "NONE",
    rater="r[0-9]+",
    model="|".join(map(re.escape, MODELS)),


def slice_dirs(pids):
    return [f"{R}/slices/{p}" for p in pids]


def slices_of(pids, rater="r1"):
    return {p: f"{R}/slices/{p}/{rater}.npz" for p in pids}


def all_slices():
    return {(p.patient_id, r): f"{R}/slices/{p.patient_id}/{r}.npz" for p in PLAN for r in p.raters}


def km_figures():
    return {(c, e): f"{R}/figures/km_{c}_{e}.png" for c in SURVIVAL_SETS for e in ENDPOINTS}


def final_targets():
    return [
        f"{R}/tables/discrimination.csv",
        f"{R}/tables/reproducibility.csv",
        f"{R}/tables/calibration.csv",
        f"{R}/tables/table1.csv",
        f"{R}/tables/dls_by_group.csv",
        f"{R}/tables/decision_curve.csv",
        *[f"{R}/figures/dca_{m}.png" for m in MODELS],
        *[f"{R}/figures/dls_by_label_{m}.png" for m in MODELS],
        *[f"{R}/figures/calibration_{m}.png" for m in MODELS],
        f"{R}/tables/survival.csv",
        f"{R}/tables/qc.csv",
        f"{R}/tables/provenance.csv",
        f"{R}/summary.html",
        f"{R}/figures/hyperimages.png",
        *[f"{R}/figures/roc_{m}.png" for m in MODELS],
        *km_figures().values(),
    ]
