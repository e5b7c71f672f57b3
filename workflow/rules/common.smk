# Shared definitions: the study plan (patients, raters, files) and path helpers.
import re
import sys

sys.path.insert(0, SRC)

from dlscore.chunks import patient_chunks
from dlscore.cohorts import active as active_cohort, manifest_path
from dlscore.folds import is_cv
from dlscore.settings import step_params
from dlscore.study import (
    check_inside,
    development_patients,
    endpoint_names,
    endpoints,
    km_models,
    marker_names,
    marker_pairs,
    model_names,
    plan_patients,
    planned_model_folds,
    scores_mode,
    signature_enabled,
    survival_sets,
)

R = config["results"]
# a registered cohort (dlscore.cohorts), or None: the study brings a manifest
COHORT = active_cohort(config)
MANIFEST = manifest_path(config)
try:  # the manifest's ids and cohort names become folder names: checked before any planning
    PLAN = plan_patients(config, config["split"]["site_column"])
    PATIENT = {p.patient_id: p for p in PLAN}
    PIDS = list(PATIENT)
    DEV_PIDS = development_patients(PLAN)
    SURVIVAL_SETS = survival_sets(
        PLAN, config["survival"]["splits"], is_cv(config["split"])
    )
    FOLDS = planned_model_folds(config, PLAN) if not scores_mode(config) else []
except ManifestError as err:  # one clear message, no traceback
    raise WorkflowError(str(err)) from None
# chunk -> its patients (one job)
PATIENT_CHUNKS = patient_chunks(PIDS, config["compute"]["patients_per_job"])
SCORES_ONLY = scores_mode(config)
MODELS = model_names(config)
MARKERS = marker_names(config)  # scores-only: markers that are manifest columns
SIGNATURE = signature_enabled(config)
KM_MODELS = km_models(config)
ENDPOINTS = list(endpoints(config))
ENDPOINT_NAME = endpoint_names(config)
ENVS = str(Path(workflow.basedir) / "envs")
# the torch build of --sdm conda
DL_ENV = {"cpu": "dl", "cuda": "dl_cuda"}[config["compute"]["torch"]]
try:  # nothing the manifest or config names may make a job write (or clean up) outside results/
    check_inside(
        R,
        [f"{R}/slices/{p}/r1.npz" for p in PIDS]
        + [f"{R}/models/{m}/weights.pt" for m in MODELS]
        + [
            f"{R}/figures/km_{m}_{s}_{e}.png"
            for m in KM_MODELS
            for s in SURVIVAL_SETS
            for e in ENDPOINTS
        ],
    )
except ManifestError as err:
    raise WorkflowError(str(err)) from None


wildcard_constraints:
    pid="|".join(map(re.escape, PIDS)) if PIDS else "NONE",
    rater="r[0-9]+",
    model="|".join(map(re.escape, MODELS)),
    fold="[0-9]+",


def slice_dirs(pids):
    return [f"{R}/slices/{p}" for p in pids]


def slices_of(pids, rater="r1"):
    return {p: f"{R}/slices/{p}/{rater}.npz" for p in pids}


def all_slices():
    return {
        (p.patient_id, r): f"{R}/slices/{p.patient_id}/{r}.npz"
        for p in PLAN
        for r in p.raters
    }


def km_figures():
    return {
        (m, c, e): f"{R}/figures/km_{m}_{c}_{e}.png"
        for m in KM_MODELS
        for c in SURVIVAL_SETS
        for e in ENDPOINTS
    }


def four_group_figures():
    pairs = marker_pairs(config, "four_groups")
    return {
        (a, b, c, e): f"{R}/figures/km4_{a}_{b}_{c}_{e}.png"
        for a, b in pairs
        for c in SURVIVAL_SETS
        for e in ENDPOINTS
    }


def forest_figures():
    return {
        (m, c, e): f"{R}/figures/forest_{m}_{c}_{e}.png"
        for m in KM_MODELS
        for c in SURVIVAL_SETS
        for e in ENDPOINTS
    }


from dlscore.report_index import VIEW_CSV, report_entry, views_entry


def pdf_of(*pngs):
    """The vector PDF that dlscore.plots.save writes beside each PNG figure (declared outputs)."""
    flat = [p for x in pngs for p in ([x] if isinstance(x, str) else x)]
    return [str(p)[: -len(".png")] + ".pdf" for p in flat]


# table name -> (CSV path, its report entry): every CSV table that in_report puts in the report;
# rule table_views (report.smk) renders each as a rounded HTML table shown inline beside it
REPORT_CSVS = {}


def in_report(path, key, item=None, patterns=(), **labels):
    """``path`` as an item of the HTML report: numbered section, sub-heading and labels
    (item, model, set, endpoint) from dlscore.report_index; caption workflow/report/<key>.rst;
    ``patterns``: the files of a directory output that the report shows. A CSV table is the
    download (full precision); its rounded view (``table_views``) is shown beside it."""
    entry = report_entry(key, item, **labels)
    if isinstance(path, str) and path.endswith(".csv"):
        entry["labels"]["view"] = VIEW_CSV
        for model in MODELS if "{model}" in path else [None]:  # one table per model
            fill = lambda text: text.replace("{model}", model) if model else text
            labels_of = {k: fill(v) for k, v in entry["labels"].items()}
            REPORT_CSVS[Path(fill(path)).stem] = (
                fill(path),
                {**entry, "labels": labels_of},
            )
    return report(path, patterns=list(patterns), **entry)


def table_views_in_report(folder):
    """The folder of table views (``<table>.html``) as report items, each beside its CSV."""
    return report(
        folder,
        patterns=["{name}.html"],
        **views_entry(lambda name: REPORT_CSVS[name][1]),
    )


def report_csvs(wildcards=None):
    """The report's CSV tables that this study writes (name -> path): those of REPORT_CSVS
    among the final targets."""
    targets = set(final_targets())
    return {n: p for n, (p, _) in REPORT_CSVS.items() if p in targets}


from dlscore.steps.survival import CLINICAL_TABLES
from dlscore.steps.signature import SIGNATURE_TABLES
from dlscore.steps.report import MANUSCRIPT_TABLES

MANUSCRIPT_OUTPUTS = [
    "tables/study_flow.csv",
    "figures/study_flow.png",
    "methods.md",
    "tables/tripod_ai.csv",
    "tables/manuscript",
]


IMAGING_TARGETS = [
    f"{R}/tables/qc.csv",
    *([f"{R}/qc/montages"] if config.get("qc", {}).get("montage", True) else []),
    f"{R}/figures/hyperimages.png",
    f"{R}/figures/qc_overview.png",
]


def final_targets():
    """Every output of the study; each PNG figure with its vector PDF."""
    targets = _final_targets()
    return targets + pdf_of(
        [t for t in targets if Path(t).parent.name == "figures" and t.endswith(".png")]
    )


def _final_targets():
    if (
        config.get("stop_after") == "features"
    ):  # too few patients to train: images -> features, then stop
        return [
            *IMAGING_TARGETS,
            f"{R}/radiomics/features.parquet",
            f"{R}/tables/radiomics_features.csv",
            *[f"{R}/tables/{t}.csv" for t in (COHORT.tables if COHORT else ())],
        ]
    common = [
        f"{R}/tables/table1.csv",
        f"{R}/tables/table2.csv",
        *[
            f"{R}/tables/{t}.csv"
            for t in ("dls_by_group", "dls_by_cohort", "correlations", "dls_regression")
        ],
        f"{R}/tables/survival.csv",
        f"{R}/tables/survival_at_risk.csv",
        *[f"{R}/tables/{t}.csv" for t in CLINICAL_TABLES],
        f"{R}/tables/provenance.csv",
        f"{R}/tables/data_checksums.csv",
        f"{R}/tables/cutoffs.csv",
        f"{R}/tables/table1_by_label.csv",
        *[f"{R}/tables/{t}.csv" for t in (COHORT.tables if COHORT else ())],
        f"{R}/tables/views",
        f"{R}/summary.html",
        *[f"{R}/{o}" for o in MANUSCRIPT_OUTPUTS],
        *km_figures().values(),
        *forest_figures().values(),
        *four_group_figures().values(),
        f"{R}/figures/roc_dcb.png",
    ]
    if SIGNATURE:
        common += [
            *[f"{R}/tables/{t}.csv" for t in SIGNATURE_TABLES],
            f"{R}/figures/roc_signatures.png",
            f"{R}/figures/radiomics_dls_heatmap.png",
        ]
    if SCORES_ONLY:
        return common
    return common + [
        f"{R}/tables/discrimination.csv",
        f"{R}/tables/comparisons.csv",
        f"{R}/tables/subgroup_auc.csv",
        f"{R}/tables/reproducibility.csv",
        f"{R}/tables/calibration.csv",
        f"{R}/tables/decision_curve.csv",
        *[f"{R}/figures/dca_{m}.png" for m in MODELS],
        *[f"{R}/figures/dls_by_label_{m}.png" for m in MODELS],
        *[f"{R}/figures/calibration_{m}.png" for m in MODELS],
        *[f"{R}/figures/gradcam_{m}.png" for m in MODELS],
        *[f"{R}/figures/deep_features_{m}.png" for m in MODELS],
        *[f"{R}/figures/activations_{m}.png" for m in MODELS],
        *[f"{R}/figures/training_{m}.png" for m in MODELS],
        *[f"{R}/tables/deep_clusters_{m}.csv" for m in MODELS],
        *[f"{R}/tables/attention_{m}.csv" for m in MODELS],
        *IMAGING_TARGETS,
        *[f"{R}/figures/roc_{m}.png" for m in MODELS],
        f"{R}/figures/roc_comparators.png",
    ]


def summary_tables(wildcards):
    tables = {
        "splits": f"{R}/manifest/splits.csv",
        "survival": f"{R}/tables/survival.csv",
        **{
            t: f"{R}/tables/{t}.csv"
            for t in ("dcb", "hr_difference", "cox_multivariable", "marker_coverage")
        },
    }
    if SIGNATURE:
        tables["signature_baselines"] = f"{R}/tables/signature_baselines.csv"
    if not SCORES_ONLY:
        tables.update(
            discrimination=f"{R}/tables/discrimination.csv",
            reproducibility=f"{R}/tables/reproducibility.csv",
            calibration=f"{R}/tables/calibration.csv",
        )
    return tables


def manuscript_tables():
    """The tables the manuscript step reads (name -> path): those of MANUSCRIPT_TABLES this study writes."""
    imaging_only = ("discrimination", "comparisons", "calibration", "reproducibility")
    return {
        k: f"{R}/{v}"
        for k, v in MANUSCRIPT_TABLES.items()
        if not (SCORES_ONLY and k in imaging_only)
    }


def produced_outputs():
    """Every output of the run, relative to the results folder (the TRIPOD+AI checklist points at them)."""
    return sorted(
        {str(Path(f).relative_to(R)) for f in final_targets()} | {"manifest/splits.csv"}
    )


def signature_inputs(wildcards):
    """Inputs of the signature rule: the feature table, and the primary model's DLS and deep
    features in imaging studies."""
    ins = {"validated": f"{R}/manifest/validated.parquet"}
    if SCORES_ONLY:
        ins["features"] = config["signature"]["features"]
    else:
        ins["features"] = f"{R}/radiomics/features.parquet"
        ins["dls"] = f"{R}/scores/{config['primary_model']}.parquet"
        ins["deep"] = f"{R}/scores/{config['primary_model']}_features.parquet"
    return ins


def model_history(wc):
    """The model's per-epoch history, or nothing for frozen weights (not trained here)."""
    return (
        []
        if config["models"][wc.model].get("weights")
        else [f"{R}/models/{wc.model}/history.csv"]
    )


def model_weights(wc):
    """Weights the model is scored with: frozen ones given in the config (inference only, no
    training job), else those the study trains."""
    return (
        config["models"][wc.model].get("weights") or f"{R}/models/{wc.model}/weights.pt"
    )
