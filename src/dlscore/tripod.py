"""The TRIPOD+AI checklist (Collins et al., BMJ 2024;385:e078378) filled from a run: for each
item, the outputs of this run that answer it, and what the authors must still write.

An item is "answered" only when every output it needs was produced by this run; "partly" when
the run gives the numbers and the authors give the words (justification, interpretation);
"author" when nothing the workflow computes can answer it.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

import pandas as pd


class Item(NamedTuple):
    item: str
    section: str
    topic: str
    outputs: tuple[str, ...]  # run outputs (relative to results/) that answer it; () = none can
    author: str  # what the authors must add ("" = nothing)


#: the checklist's items (topics paraphrased), in its order
ITEMS: tuple[Item, ...] = (
    Item("1", "Title", "Development and/or evaluation of a prediction model; target population; outcome", (),
         "the title"),
    Item("2", "Abstract", "Structured summary (TRIPOD+AI for Abstracts)", ("methods.md",),
         "the abstract (the numbers are in methods.md, Key results)"),
    Item("3a-c", "Introduction", "Healthcare context, rationale, existing models", (), "background"),
    Item("4", "Objectives", "Objectives: development and/or validation", (), "objectives"),
    Item("5a", "Methods: data", "Data sources per cohort, representativeness", ("methods.md", "tables/table1.csv"),
         "how and where the data were collected, dates"),
    Item("5b", "Methods: data", "Dates of data collection, follow-up", ("tables/survival.csv",), "accrual dates"),
    Item("6a", "Methods: participants", "Setting, eligibility criteria", ("figures/study_flow.png",),
         "the eligibility criteria"),
    Item("6b-c", "Methods: participants", "Treatments received; subgroups", ("tables/table1.csv",),
         "treatment details"),
    Item("7", "Methods: data preparation", "Pre-processing and quality checks", ("methods.md", "tables/qc.csv"), ""),
    Item("8a-c", "Methods: outcome", "Outcome definition, assessment, blinding", ("methods.md",),
         "how the reference standard (e.g. IHC) was assessed, blinding of assessors"),
    Item("9a-c", "Methods: predictors", "Predictors (images, masks, readers), their assessment",
         ("methods.md", "tables/reproducibility.csv"), "scanner and acquisition protocols"),
    Item("10", "Methods: sample size", "Sample size and its justification", ("tables/study_flow.csv",),
         "the justification of the sample size"),
    Item("11", "Methods: missing data", "How missing data were handled", ("tables/study_flow.csv",), ""),
    Item("12a-g", "Methods: analysis", "Data use, model type, training, tuning, performance measures",
         ("methods.md", "tables/cutoffs.csv"), ""),
    Item("13", "Methods: class imbalance", "Class imbalance and recalibration", ("manifest/splits.csv",
                                                                                  "tables/calibration.csv"), ""),
    Item("14", "Methods: fairness", "Fairness: performance in subgroups", ("tables/subgroup_auc.csv",),
         "which groups matter for fairness and why"),
    Item("15", "Methods: model output", "Output of the model, thresholds", ("tables/cutoffs.csv",), ""),
    Item("16", "Methods: training vs evaluation", "Differences between development and evaluation data",
         ("tables/table1.csv",), "differences in setting and case mix, in words"),
    Item("17", "Methods: ethics", "Ethical approval and consent", (), "the ethics committee and consent"),
    Item("18a-b", "Open science", "Funding; conflicts of interest", (), "funding and conflicts"),
    Item("18c-d", "Open science", "Protocol; registration", (), "protocol and registration"),
    Item("18e", "Open science", "Data sharing", ("tables/data_checksums.csv",), "where the data can be obtained"),
    Item("18f", "Open science", "Code sharing", ("tables/provenance.csv",),
         "the public address of this repository and commit"),
    Item("19", "Patient and public involvement", "Patient and public involvement", (), "PPI, or its absence"),
    Item("20a", "Results: participants", "Flow of participants", ("figures/study_flow.png", "tables/study_flow.csv"),
         ""),
    Item("20b-c", "Results: participants", "Characteristics per data source; outcomes",
         ("tables/table1.csv", "tables/table1_by_label.csv", "tables/table2.csv"), ""),
    Item("21", "Results: model development", "Participants and outcome events in each analysis",
         ("tables/study_flow.csv", "manifest/splits.csv"), ""),
    Item("22", "Results: model specification", "Full model or how to access it", ("methods.md",),
         "where the trained weights can be obtained"),
    Item("23a", "Results: performance", "Performance with CIs, incl. subgroups",
         ("tables/discrimination.csv", "tables/calibration.csv", "tables/decision_curve.csv"), ""),
    Item("23b", "Results: performance", "Heterogeneity across clusters", ("tables/subgroup_auc.csv",), ""),
    Item("24", "Results: model updating", "Model updating and its performance", (),
         "model updating, or that none was done"),
    Item("25", "Discussion", "Interpretation, main results", ("methods.md",), "the interpretation"),
    Item("26", "Discussion", "Limitations", (), "the limitations"),
    Item("27a-c", "Discussion", "Usability, poor-quality input, human-AI interaction", ("tables/qc.csv",),
         "intended use and how users handle poor input"),
)


def checklist(produced: Iterable[str]) -> pd.DataFrame:
    """The filled checklist: item, section, topic, ``answered_in`` (the outputs among ``produced``
    - paths relative to the results folder - that answer it), ``missing_outputs`` (those the run
    did not produce) and ``status``: answered | partly | author."""
    have = set(produced)
    rows = []
    for it in ITEMS:
        found = [o for o in it.outputs if o in have]
        missing = [o for o in it.outputs if o not in have]
        status = "author" if not found else "answered" if not it.author and not missing else "partly"
        rows.append({"item": it.item, "section": it.section, "topic": it.topic, "answered_in": "; ".join(found),
                     "missing_outputs": "; ".join(missing), "status": status, "authors_write": it.author})
    return pd.DataFrame(rows)
