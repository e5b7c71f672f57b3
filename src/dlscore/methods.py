"""The methods section of a manuscript, written from one run: its settings and its tables.

Every number the text quotes is either a setting of the run or a value of one of its tables
(formatted, never recomputed), and every method it names is the one the table says it used
(``auc_ci_method``, ``hr_method`` ...): edit the config and the text changes with the run.
References are numbered in order of first use; only the ones cited are listed.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from dlscore.slices import DISTANCE_CHANNEL, MASK_CHANNEL
from dlscore.study import endpoints, km_models, model_names, scores_mode, signature_enabled

#: key -> reference (Vancouver style)
REFERENCES = {
    "delong": "DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more correlated receiver "
              "operating characteristic curves: a nonparametric approach. Biometrics. 1988;44(3):837-845.",
    "sun_xu": "Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas under correlated "
              "receiver operating characteristic curves. IEEE Signal Process Lett. 2014;21(11):1389-1393.",
    "youden": "Youden WJ. Index for rating diagnostic tests. Cancer. 1950;3(1):32-35.",
    "shrout": "Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability. Psychol Bull. "
              "1979;86(2):420-428.",
    "pyradiomics": "van Griethuysen JJM, Fedorov A, Parmar C, et al. Computational radiomics system to decode the "
                   "radiographic phenotype. Cancer Res. 2017;77(21):e104-e107.",
    "lifelines": "Davidson-Pilon C. lifelines: survival analysis in Python. J Open Source Softw. 2019;4(40):1317.",
    "sklearn": "Pedregosa F, Varoquaux G, Gramfort A, et al. Scikit-learn: machine learning in Python. J Mach Learn "
               "Res. 2011;12:2825-2830.",
    "torch": "Paszke A, Gross S, Massa F, et al. PyTorch: an imperative style, high-performance deep learning "
             "library. Adv Neural Inf Process Syst. 2019;32.",
    "snakemake": "Mölder F, Jablonski KP, Letcher B, et al. Sustainable data analysis with Snakemake. "
                 "F1000Research. 2021;10:33.",
    "tripod_ai": "Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement: updated guidance for reporting "
                 "clinical prediction models that use regression or machine learning methods. BMJ. 2024;385:e078378.",
}


class _Refs:
    """Numbers references in order of first citation."""

    def __init__(self) -> None:
        self.order: list[str] = []

    def __call__(self, *keys: str) -> str:
        for k in keys:
            if k not in self.order:
                self.order.append(k)
        return "[" + ", ".join(str(self.order.index(k) + 1) for k in keys) + "]"

    def listing(self) -> str:
        return "\n".join(f"{i}. {REFERENCES[k]}" for i, k in enumerate(self.order, 1))


def _num(v: Any, digits: int = 2) -> str:
    """A count as an integer, any other table value with ``digits`` decimals."""
    v = float(v)
    return str(int(v)) if digits == 0 or v.is_integer() and abs(v) >= 2 else f"{v:.{digits}f}"


def _p(v: Any) -> str:
    """A p value: 3 decimals, or 2 significant digits below 0.001."""
    v = float(v)
    return f"{v:.3f}" if v >= 1e-3 else f"{v:.2g}"


def _ci(row: Mapping[str, Any], est: str, lo: str, hi: str, level: str, digits: int = 2) -> str:
    f = lambda k: f"{float(row[k]):.{digits}f}"  # noqa: E731
    return f"{f(est)} ({level} CI {f(lo)}-{f(hi)})"


def _level(s: Mapping[str, Any]) -> str:
    """The confidence level of the run's intervals, from ``stats.alpha`` (0.05 -> "95 %")."""
    return f"{100 * (1 - float(s['stats']['alpha'])):g} %"


def _first(table: pd.DataFrame | None, column: str) -> str | None:
    """The first non-empty value of ``column`` (a method string the table records), or None."""
    if table is None or column not in table:
        return None
    vals = table[column].dropna()
    return str(vals.iloc[0]) if len(vals) else None


def _positives(r) -> str:
    """' (k positive)', ' (k of m labelled positive)', or ', label not recorded' when the set has none."""
    labelled = getattr(r, "n_labelled", r.n)
    if not labelled or pd.isna(r.n_positive):
        return ", label not recorded"
    of = "" if labelled == r.n else f" of {_num(labelled, 0)} labelled"
    return f" ({_num(r.n_positive, 0)}{of} positive)"


def _patients(s: Mapping[str, Any], t: Mapping[str, pd.DataFrame], cite: _Refs) -> str:
    splits, flow = t["splits"], t["study_flow"]
    cohorts = flow[flow["level"] == "cohort"].set_index("set")["n"]
    lines = [f"The study analysed {_num(flow.loc[flow['level'] == 'manifest', 'n'].iloc[0], 0)} patients from "
             f"{len(cohorts)} cohorts (Figure 1, `tables/study_flow.csv`); the label was \"{s['label_name']}\"."]
    for cohort, g in splits.groupby("cohort", sort=False):
        parts = [f"{r.split} {_num(r.n, 0)}{_positives(r)}" for r in g.itertuples()]
        lines.append(f"- {cohort}: {_num(cohorts.get(cohort, g['n'].sum()), 0)} patients; {', '.join(parts)}.")
    sp, dev = s["split"], set(splits["split"]) & {"training", "validation", "development"}
    if not dev or scores_mode(s):
        lines.append("No model was developed in this run: every cohort was analysed as given.")
    elif sp["method"] == "holdout":
        lines.append(f"The development cohort was split at random, stratified by label, into training and "
                     f"validation sets (validation fraction {sp['validation_fraction']}; seed {s['seed']}); the "
                     "held-out cohorts were never used for training or for choosing a cutoff.")
    else:
        how = (f"stratified {sp['k']}-fold cross-validation by patient" if sp["method"] == "kfold"
               else f"leave-one-site-out cross-validation (one fold per value of `{sp['site_column']}`)")
        inner = (f"within each fold a fraction {sp['validation_fraction']} of the training patients was kept for "
                 "early stopping" if sp["validation_fraction"] else "each fold network was trained on all of its "
                 "training patients for a fixed number of epochs (no early stopping) and its last epoch kept")
        lines.append(f"Networks were trained by {how} (seed {s['seed']}); {inner}. Every "
                     "development patient is scored by the fold model that did not see it (out-of-fold DLS); "
                     "held-out cohorts are scored by the mean of the fold models.")
    return "\n".join(lines)


def _zscore_words(spec: Mapping[str, Any]) -> str:
    """How a z-scored modality was normalised, in words (its mean and SD region)."""
    region = ("the voxels above the Otsu threshold (head/body)" if spec.get("region") == "otsu"
              else "the voxels above the volume's minimum")
    return f"z-score over {region}{', tumour excluded' if spec.get('exclude_tumour') else ''}"


def _imaging(s: Mapping[str, Any], t: Mapping[str, pd.DataFrame], cite: _Refs) -> str:
    if scores_mode(s):
        return ""
    im, sl = s["imaging"], s["slices"]
    norm = "; ".join(f"{m.upper()} {v['method']} [{v['low']}, {v['high']}]" if v.get("method") == "window"
                     else f"{m.upper()} {_zscore_words(v)}" for m, v in im.get("normalise", {}).items())
    raters = list(im["raters"])
    lines = [f"Images ({', '.join(m.upper() for m in im['modalities'])}) were resampled onto the "
             f"{im['reference'].upper()} grid and scaled to [0, 1] per modality ({norm}).",
             f"Tumour masks were drawn by {len(raters)} reader(s) ({', '.join(raters)}); the DLS was derived from "
             f"{raters[0]}'s mask" + (f", and {', '.join(raters[1:])}'s masks measured its inter-reader "
                                      "reproducibility." if len(raters) > 1 else "."),
             f"On every axial slice the smallest square around the tumour was enlarged by {sl['margin_mm']} mm on "
             f"each side (the PET/CT paper's dilation \"with a square of size 20 mm\" is read as a margin per "
             f"side; read as a structuring element it would be half that margin, `slices.margin_mm`). Slices "
             f"whose tumour square area exceeded {sl['min_area_fraction']} of the patient's largest were kept and resampled (spline order "
             f"{sl['interpolation_order']}) to {sl['size']} x {sl['size']} pixel hyper-images with channels "
             f"{', '.join(sl['channels'])}."]
    if MASK_CHANNEL in sl.get("channels", ()):
        lines.append(f"The mask channel is {raters[0]}'s tumour mask (1 inside, 0 outside), resampled with the "
                     "images.")
    if DISTANCE_CHANNEL in sl.get("channels", ()):
        lines.append(f"The distance channel is 1 / (1 + exp(d / {sl['distance_scale_mm']} mm)) of the signed 3-D "
                     f"distance d from each voxel to the surface of {raters[0]}'s mask (negative inside): 0.5 on the "
                     "outline, towards 1 deep inside the tumour.")
    if "fusion" in sl.get("channels", ()) and sl.get("fusion"):
        f = sl["fusion"]
        lines.append(f"The fusion channel is the weighted mean of {f['of'][1].upper()} and {f['of'][0].upper()} "
                     f"(weight {f['alpha']} on {f['of'][0].upper()}).")
    return " ".join(lines)


def _network(s: Mapping[str, Any], t: Mapping[str, pd.DataFrame], cite: _Refs) -> str:
    if scores_mode(s):
        return (f"The markers ({', '.join(model_names(s))}) were read from the manifest as given; no network was "
                "trained in this run.")
    names = list(s["run_models"])
    keys = sorted({k for m in names for k in s["models"][m] if k != "weights"})
    head = "| setting | " + " | ".join(names) + " |\n|---|" + "---|" * len(names)
    rows = ["| " + k + " | " + " | ".join(str(s["models"][m].get(k, "")) for m in names) + " |" for k in keys]
    return (f"Each network was trained in PyTorch {cite('torch')} on the training patients' slices and gives one "
            "probability per slice; a patient's deep-learning score (DLS) is the mean of its slice probabilities. "
            f"The primary model is `{s['primary_model']}`" + (f"; {', '.join(n for n in names if n != s['primary_model'])} "
                                                             "are its ablations, trained the same way."
                                                             if len(names) > 1 else ".")
            + f" Training settings (random seed {s['seed']}):\n\n" + head + "\n" + "\n".join(rows))


def _radiomics(s: Mapping[str, Any], t: Mapping[str, pd.DataFrame], cite: _Refs) -> str:
    sig = s["signature"]
    if not signature_enabled(s):
        return ""
    rad = s.get("radiomics") or {}
    bins = ", ".join(f"{m.upper()} {w}" for m, w in (rad.get("bin_width") or {}).items())
    return (f"Radiomic features were extracted with PyRadiomics {cite('pyradiomics')}"
            + (f" (bin width {bins})" if bins else "") + ". "
            f"Features with an inter-reader ICC below {sig['icc_threshold']} on the training patients were "
            f"dropped {cite('shrout')}; of two features with |Spearman rho| above {sig['max_correlation']} the "
            f"weaker was dropped; a LASSO logistic model chosen by {sig['n_folds']}-fold cross-validated deviance "
            f"({'one-standard-error rule' if sig['one_se'] else 'minimum deviance'}) gave the radiomics signature "
            "RAsig, and a logistic model of RAsig and the DLS gave RADLsig.")


def _statistics(s: Mapping[str, Any], t: Mapping[str, pd.DataFrame], cite: _Refs) -> str:
    st, level = s["stats"], _level(s)
    d = t.get("discrimination")
    out = [f"Tests were two-sided at alpha = {st['alpha']}; intervals are {level} CIs."]
    cuts = t.get("cutoffs")
    if cuts is not None and len(cuts) and "rule" in cuts:
        youden = cuts["rule"].astype(str).str.contains("Youden").any()
        out.append("Cutoffs splitting patients into high and low groups: " + "; ".join(
            f"{r.model} {float(r.cutoff):.4g} ({r.rule})" for r in cuts.itertuples())
            + (f" {cite('youden')}" if youden else "") + "." + (
                " A cutoff chosen on the training split was fixed before any held-out patient was analysed."
                if cuts["rule"].astype(str).str.contains("training").any() else ""))
    if (m := _first(d, "auc_ci_method")) is not None:
        out.append(f"AUC CIs: {m} {cite('delong', 'sun_xu')}; accuracy, sensitivity, specificity, PPV and NPV at "
                   f"the cutoff: {_first(d, 'metric_ci_method')}.")
    if (m := _first(t.get("comparisons"), "test")) is not None:
        out.append(f"AUCs of the DLS and its comparators were compared by {m} tests {cite('delong')}.")
    if (m := _first(t.get("calibration"), "method")) is not None:
        out.append(f"Calibration: {m}.")
    if (m := _first(t.get("reproducibility"), "ci_method")) is not None:
        out.append(f"Inter-reader agreement of the DLS: {st['icc_form']} {cite('shrout')}, CI by {m}.")
    sv = t.get("survival")
    if (m := _first(sv, "hr_method")) is not None:
        eps = "; ".join(f"{v['label']} in {v['unit']}" for v in endpoints(s).values())
        out.append(f"Survival endpoints: {eps}. They were compared between the high and low groups by Kaplan-Meier curves "
                   f"(median CI: {_first(sv, 'median_ci_method')}), the log-rank test and {m} {cite('lifelines')}; "
                   f"time origin: {s['survival'].get('time_origin', 'not stated')}.")
    out.append(f"Bootstrap intervals used up to {st['n_boot']} replicates (seeded).")
    return " ".join(out)


def _associations(s: Mapping[str, Any], t: Mapping[str, pd.DataFrame], cite: _Refs) -> str:
    """Which tests the patient tables, the regression and the crossed-group survival used (as
    their tables record them)."""
    out = []
    for key, what in (("table1", "Table 1 (cohorts)"), ("table2", "Table 2 (outcome cohorts by DLS group)")):
        tab = t.get(key)
        tests = [x for x in dict.fromkeys(tab["test"].dropna().astype(str)) if x] if tab is not None and "test" in tab else []
        if tests:
            out.append(f"{what} compared the groups by {'; '.join(tests)}; missing values are counted, never imputed.")
    if (m := _first(t.get("dls_regression"), "method")) is not None:
        out.append(f"The DLS was regressed on the patient variables by {m}.")
    fg = t.get("four_groups_logrank")
    if (m := _first(fg, "method")) is not None:
        out.append(f"Survival of the groups crossing the DLS with a second grouping (clinical.four_groups) was "
                   f"compared by {m}.")
    return " ".join(out)


def _results(s: Mapping[str, Any], t: Mapping[str, pd.DataFrame], cite: _Refs) -> str:
    level = _level(s)
    lines = []
    d = t.get("discrimination")
    if d is not None:
        rows = d[(d["model"] == s["primary_model"]) & (d["analysis"] == "primary")]
        for r in rows.to_dict("records"):
            lines.append(f"- AUC of `{s['primary_model']}`, {r['set']} (n = {_num(r['n'])}, {_num(r['n_pos'])} "
                         f"positive): {_ci(r, 'auc', 'auc_ci_low', 'auc_ci_high', level)}.")
    sv = t.get("survival")
    if sv is not None and "hr" in sv:
        lead = km_models(s)[0]
        rows = sv[(sv["model"] == lead) & sv["hr"].notna()]
        for r in rows.to_dict("records"):
            lines.append(f"- {r['endpoint'].upper()}, {r['set']} (n = {_num(r['n'], 0)}): HR {lead} high vs low "
                         f"{_ci(r, 'hr', 'hr_ci_low', 'hr_ci_high', level)}; log-rank p = {_p(r['logrank_p'])}.")
    return "\n".join(lines)


def _software(s: Mapping[str, Any], t: Mapping[str, pd.DataFrame], cite: _Refs) -> str:
    prov = t["provenance"].set_index("key")["value"]
    versions = {k.split(":", 1)[1]: v for k, v in prov.items() if str(k).startswith("version:")}
    cites = {"snakemake": "snakemake", "pyradiomics-bhklab": "pyradiomics", "scikit-learn": "sklearn",
             "lifelines": "lifelines", "torch": "torch"}
    listed = ", ".join(f"{k} {v}" + (f" {cite(cites[k])}" if k in cites else "") for k, v in versions.items())
    return (f"The analysis ran as a Snakemake workflow {cite('snakemake')} (dlscore, commit "
            f"`{prov.get('git_commit', 'unknown')}`, configuration hash `{prov.get('config_hash', '')}`) with "
            f"{listed}. The report follows TRIPOD+AI {cite('tripod_ai')} (`tables/tripod_ai.csv`).")


#: (heading, writer) in print order; a writer returning "" drops its section
SECTIONS: Sequence[tuple[str, Callable[..., str]]] = (
    ("Patients", _patients), ("Image preprocessing", _imaging), ("Deep-learning score", _network),
    ("Radiomics signature", _radiomics), ("Statistical analysis", _statistics),
    ("Patient characteristics and associations", _associations),
    ("Key results (from this run's tables)", _results), ("Software", _software))


def methods_markdown(settings: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]) -> str:
    """The methods section (markdown) of the run with ``settings`` (the config keys of the
    ``manuscript`` step) and ``tables`` (name -> table: ``splits``, ``study_flow``
    (:func:`dlscore.flow.study_flow`) and ``provenance`` required;
    ``discrimination``, ``cutoffs``, ``comparisons``, ``calibration``, ``reproducibility``,
    ``survival`` where the study has them)."""
    cite = _Refs()
    parts = [f"# Methods: study \"{settings['study']}\"",
             "_Written by dlscore from this run's configuration and tables; every number is the run's. "
             "Edit the wording, not the numbers: rerun the workflow instead._"]
    for heading, writer in SECTIONS:
        text = writer(settings, tables, cite)
        if text:
            parts += [f"## {heading}", text]
    parts += ["## References", cite.listing()]
    return "\n\n".join(parts) + "\n"

