"""Where each output sits in the Snakemake HTML report: one numbered list of sections in the
order of a manuscript, a sub-heading per kind of result, and labels (item, model, set,
endpoint) so that the report shows a table of named items instead of a list of paths.

The rules call ``report(path, **report_entry(key, ...))`` through ``in_report`` of
``workflow/rules/common.smk``; ``key`` is the caption's name (``workflow/report/<key>.rst``)."""

from __future__ import annotations

from typing import Any, Callable

#: the report's sections, in the order of a manuscript; numbered 1.. in the report
SECTIONS = ("Summary", "Methods and provenance", "Patients", "Data and quality control", "Discrimination",
            "Survival and clinical benefit", "Model interpretation", "Associations", "Radiomics signature")

#: caption key -> (section, sub-heading, item name)
ITEMS: dict[str, tuple[str, str, str]] = {
    "summary": ("Summary", "Study summary", "Summary of the results"),
    "methods": ("Methods and provenance", "Methods", "Methods text (methods.md)"),
    "tripod_ai": ("Methods and provenance", "Methods", "TRIPOD+AI checklist"),
    "manuscript_tables": ("Methods and provenance", "Manuscript tables", "Manuscript table"),
    "provenance": ("Methods and provenance", "Provenance", "Software, config and run"),
    "data_checksums": ("Methods and provenance", "Provenance", "Input checksums"),
    "study_flow": ("Patients", "Study flow (Figure 1)", "Study flow"),
    "table1": ("Patients", "Patient characteristics", "Table 1"),
    "table2": ("Patients", "Patient characteristics", "Table 2: ICI cohorts by DLS group"),
    "ici_mapping": ("Patients", "Cohort import", "Source columns mapped"),
    "nsclc_rg_mapping": ("Patients", "Cohort import", "Source columns mapped"),
    "dicom_index": ("Patients", "Cohort import", "DICOM series found"),
    "dicom_pairing": ("Patients", "Cohort import", "DICOM series paired"),
    "qc": ("Data and quality control", "Preprocessing", "Per-patient QC"),
    "qc_overview": ("Data and quality control", "Preprocessing", "QC overview by cohort"),
    "hyperimages": ("Data and quality control", "Preprocessing", "Hyper-images"),
    "montage": ("Data and quality control", "Per-patient QC montages", "QC montage"),
    "radiomics_features": ("Data and quality control", "Radiomic features", "Radiomic features"),
    "cutoffs": ("Discrimination", "Cutoffs", "DLS cutoffs (training)"),
    "discrimination": ("Discrimination", "AUC", "AUC per set"),
    "comparisons": ("Discrimination", "AUC", "AUC comparisons (DeLong)"),
    "subgroup_auc": ("Discrimination", "AUC", "AUC by subgroup"),
    "roc": ("Discrimination", "ROC curves", "ROC"),
    "roc_comparators": ("Discrimination", "ROC curves", "ROC with comparators"),
    "reproducibility": ("Discrimination", "Reader reproducibility", "DLS between readers (ICC)"),
    "calibration": ("Discrimination", "Calibration", "Calibration"),
    "calibration_fig": ("Discrimination", "Calibration", "Calibration plot"),
    "dca": ("Discrimination", "Decision curves", "Decision curves"),
    "dls_by_label": ("Discrimination", "DLS by label", "DLS by label"),
    "survival": ("Survival and clinical benefit", "Kaplan–Meier by DLS group", "Log-rank, HR, medians"),
    "at_risk": ("Survival and clinical benefit", "Kaplan–Meier by DLS group", "Numbers at risk"),
    "km": ("Survival and clinical benefit", "Kaplan–Meier by DLS group", "Kaplan–Meier"),
    "cox_univariable": ("Survival and clinical benefit", "Cox models", "Univariable Cox"),
    "cox_multivariable": ("Survival and clinical benefit", "Cox models", "Multivariable Cox"),
    "hr_difference": ("Survival and clinical benefit", "Cox models", "HR difference (bootstrap)"),
    "cindex": ("Survival and clinical benefit", "Prognostic value", "C-index"),
    "survival_calibration": ("Survival and clinical benefit", "Prognostic value", "Survival calibration"),
    "nomogram": ("Survival and clinical benefit", "Prognostic value", "Nomogram"),
    "marker_coverage": ("Survival and clinical benefit", "Prognostic value", "Marker coverage"),
    "dcb": ("Survival and clinical benefit", "Durable clinical benefit", "DCB rates and AUC"),
    "dcb_logistic": ("Survival and clinical benefit", "Durable clinical benefit", "DCB logistic models"),
    "dcb_validation": ("Survival and clinical benefit", "Durable clinical benefit", "DCB validation"),
    "auc_comparisons": ("Survival and clinical benefit", "Durable clinical benefit", "DCB AUC comparisons"),
    "roc_dcb": ("Survival and clinical benefit", "Durable clinical benefit", "ROC for DCB"),
    "subgroups": ("Survival and clinical benefit", "Subgroups", "Subgroup HRs"),
    "forest": ("Survival and clinical benefit", "Subgroups", "Forest plot"),
    "four_groups": ("Survival and clinical benefit", "Four groups (DLS × marker)", "Four-group survival"),
    "four_groups_logrank": ("Survival and clinical benefit", "Four groups (DLS × marker)", "Pairwise log-rank"),
    "km4": ("Survival and clinical benefit", "Four groups (DLS × marker)", "Kaplan–Meier, four groups"),
    "training": ("Model interpretation", "Training", "Learning curves"),
    "gradcam": ("Model interpretation", "Grad-CAM", "Grad-CAM"),
    "activations": ("Model interpretation", "Activations", "Residual-block activations"),
    "deep_features": ("Model interpretation", "Deep features", "Deep-feature clustering"),
    "deep_clusters": ("Model interpretation", "Deep features", "Clusters vs label (χ²)"),
    "attention": ("Model interpretation", "Attention", "Sequence attention"),
    "correlations": ("Associations", "DLS and patient variables", "Correlations"),
    "dls_regression": ("Associations", "DLS and patient variables", "Linear regression of the DLS"),
    "dls_by_group": ("Associations", "DLS and patient variables", "DLS by group"),
    "dls_by_cohort": ("Associations", "DLS and patient variables", "DLS by cohort"),
    "signature": ("Radiomics signature", "Signature tables", "Signature table"),
    "signature_roc": ("Radiomics signature", "Signature figures", "ROC of the signatures"),
    "signature_heatmap": ("Radiomics signature", "Signature figures", "Radiomics–DLS correlations"),
}


def section_title(section: str) -> str:
    """The report's category: the section's number (1..) and name."""
    return f"{SECTIONS.index(section) + 1}. {section}"


def report_entry(key: str, item: str | None = None, **labels: Any) -> dict[str, Any]:
    """The keyword arguments of Snakemake's ``report()`` for the output captioned
    ``workflow/report/<key>.rst``: caption (relative to ``workflow/rules``), category,
    subcategory, and labels {"item": ``item`` or the key's item name, then ``labels``
    (e.g. model, set, endpoint; values may hold wildcards)}."""
    section, sub, name = ITEMS[key]
    return {"caption": f"../report/{key}.rst", "category": section_title(section), "subcategory": sub,
            "labels": {"item": item or name, **{k: str(v) for k, v in labels.items()}}}


#: the "view" label of a CSV table in the report, and of its rounded HTML view beside it (the
#: report toggles between the two values and shows the first in code-point order: the table)
VIEW_CSV, VIEW_TABLE = "full precision (CSV download)", "Table (rounded)"
#: the caption of every table view (``workflow/report/table_view.rst``)
VIEW_CAPTION = "table_view"


def views_entry(csv_entry: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The keyword arguments of Snakemake's ``report()`` for the folder of table views
    (``<name>.html``, one per CSV table): each view sits in the section and under the
    sub-heading of its CSV, whose entry is ``csv_entry(name)``, with the CSV's labels and
    view :data:`VIEW_TABLE`."""
    return {"caption": f"../report/{VIEW_CAPTION}.rst",
            "category": lambda wc: csv_entry(wc.name)["category"],
            "subcategory": lambda wc: csv_entry(wc.name)["subcategory"],
            "labels": lambda wc: {**csv_entry(wc.name)["labels"], "view": VIEW_TABLE}}
