"""Discrimination tables: the rows of ``tables/discrimination.csv``, the DLS cutoff of a
model, and the paired comparisons of models (pure functions: arrays and frames in, rows out).

Scores ``s`` are the DLS (probability of the positive class, shape (n,)); labels ``y`` are
0/1 (shape (n,)). AUC CIs are DeLong's; metrics at the cutoff have stratified percentile
bootstrap CIs with the cutoff held fixed.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from dlscore.stats.roc import (auc_delong, bootstrap_auc, bootstrap_metrics, delong_test, delong_test_unpaired,
                              metrics_at_cutoff, youden_cutoff)

#: where a cutoff came from, as written in the discrimination table
FIXED, YOUDEN = "fixed (config)", "training (Youden)"
#: the rule written in the cutoff table for a fixed cutoff
FIXED_RULE = "fixed in the config (models.<name>.cutoff)"


def model_cutoff(y_train, s_train, fixed: float | None = None, split: str = "training") -> dict[str, Any]:
    """The cutoff of one model: ``fixed`` (a frozen model from another study carries its own)
    or the maximum Youden index on the training split (``split``: ``development`` for the
    out-of-fold scores of a cross-validated study). A split on which it cannot be computed
    (one class, a constant score) gives ``cutoff`` NaN and a rule that says why.
    Returns {cutoff, origin, rule, n_training}."""
    where = "the out-of-fold development scores" if split == "development" else f"the {split} split"
    if fixed is not None:
        return {"cutoff": float(fixed), "origin": FIXED, "rule": FIXED_RULE,
                "n_training": len(y_train)}
    try:
        cut, rule = youden_cutoff(np.asarray(y_train).astype(int), np.asarray(s_train)), \
            f"maximum Youden index on {where}"
    except ValueError as err:  # a collapsed network: every table says so instead of a cutoff
        cut, rule = float("nan"), f"not computable: {err} ({where})"
    return {"cutoff": cut, "origin": YOUDEN, "rule": rule, "n_training": len(y_train)}


def cutoff_of(table: pd.DataFrame, model: str) -> dict[str, Any]:
    """A model's cutoff as :func:`model_cutoff` gave it, read back from the cutoff table
    (indexed by model; columns cutoff, rule)."""
    r = table.loc[model]
    return {"cutoff": float(r["cutoff"]), "rule": r["rule"], "origin": FIXED if r["rule"] == FIXED_RULE else YOUDEN}


def auc_fields(y, s, alpha: float) -> dict[str, Any]:
    """AUC with its DeLong CI, SE and p against 0.5, or a note when the set lacks a class."""
    y = np.asarray(y).astype(int)
    if len(y) == 0 or y.min() == y.max():
        return {"note": "AUC not computable: needs both classes"}
    a = auc_delong(y, np.asarray(s), alpha)
    return {"auc": a.auc, "auc_ci_low": a.ci_low, "auc_ci_high": a.ci_high, "auc_se": a.se, "auc_ci_method": "DeLong",
            "auc_p": auc_p_value(a.auc, a.se)}


def auc_p_value(auc: float, se: float) -> float:
    """Two-sided p of H0: AUC = 0.5 from the DeLong SE (z = (AUC - 0.5) / SE); NaN when the
    SE is 0 (complete separation: the normal approximation says nothing)."""
    from scipy.stats import norm
    return float(2 * norm.sf(abs(auc - 0.5) / se)) if se > 0 else float("nan")


def secondary_row(y, s, base: Mapping[str, Any], label_name: str, secondary: str, alpha: float) -> dict[str, Any]:
    """AUC of the DLS (trained for ``label_name``) for a secondary label."""
    row = {**base, "n": len(y), "n_pos": int(np.sum(y))}
    fields = auc_fields(y, s, alpha)
    if "auc" in fields:
        fields["note"] = f"DLS trained for {label_name}; AUC for {secondary}"
    return {**row, **fields}


def primary_row(y, s, base: Mapping[str, Any], cutoff: Mapping[str, Any], n_boot: int, seed: int,
                alpha: float) -> dict[str, Any]:
    """AUC (DeLong and bootstrap CI) and accuracy, sensitivity, specificity, PPV, NPV at the
    cutoff (``model_cutoff``'s dict) with bootstrap CIs; without a cutoff, the AUC only."""
    y, s = np.asarray(y).astype(int), np.asarray(s)
    row = {**base, "n": len(y), "n_pos": int(y.sum())}
    fields = auc_fields(y, s, alpha)
    if "auc" not in fields:
        return {**row, **fields}
    cut = float(cutoff["cutoff"])
    if not np.isfinite(cut):
        return {**row, **fields, "note": f"metrics at the cutoff {cutoff['rule']}"}
    m = metrics_at_cutoff(y, s, cut)
    ci = bootstrap_metrics(y, s, cut, n_boot, seed, alpha)
    b_lo, b_hi, _ = bootstrap_auc(y, s, n_boot, seed, alpha)
    row.update({**fields, "auc_boot_ci_low": b_lo, "auc_boot_ci_high": b_hi, "cutoff": cut,
                "cutoff_from": cutoff["origin"]})
    for k in ("acc", "sen", "spec", "ppv", "npv"):
        row.update({k: m[k], f"{k}_ci_low": ci[k][0], f"{k}_ci_high": ci[k][1]})
    row.update({"tp": m["tp"], "fp": m["fp"], "tn": m["tn"], "fn": m["fn"],
                "metric_ci_method": f"stratified percentile bootstrap, {n_boot} replicates, cutoff fixed", "note": ""})
    return row


def comparator_row(y, s, other, base: Mapping[str, Any], comparator: str, alpha: float) -> dict[str, Any]:
    """Paired DeLong test of the model's score ``s`` against a comparator score ``other``."""
    t = delong_test(np.asarray(y).astype(int), np.asarray(s), np.asarray(other), alpha)
    return {**base, "comparator": comparator, "n": len(y), "auc_model": t.auc_a, "auc_comparator": t.auc_b,
            "diff": t.diff, "diff_ci_low": t.ci_low, "diff_ci_high": t.ci_high, "z": t.z, "p": t.p,
            "test": "paired DeLong, two-sided"}


def model_comparisons(labelled: Mapping[str, Mapping[str, pd.DataFrame]], alpha: float = 0.05) -> list[dict]:
    """Paired DeLong test of every pair of models in every set where both scored the same
    patients (modality ablations: fused vs PET-only vs CT-only; per MRI sequence vs fusion).

    labelled: model -> set name -> rows (patient_id, label 0/1, dls). Patients scored by
    both models are compared; a set where they share no patient of each class is skipped."""
    out, names = [], list(labelled)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for name, da in labelled[a].items():
                if name not in labelled[b]:
                    continue
                m = da.merge(labelled[b][name][["patient_id", "dls"]], on="patient_id", suffixes=("_a", "_b"))
                y = m["label"].astype(int).to_numpy()
                if len(m) == 0 or y.min() == y.max():
                    continue
                out.append(comparator_row(y, m["dls_a"].to_numpy(), m["dls_b"].to_numpy(),
                                          {"model": a, "set": name}, f"model {b}", alpha))
    return out


def subgroup_auc_rows(frame: pd.DataFrame, subgroups, base: Mapping[str, Any], alpha: float) -> list[dict]:
    """AUC of the score ``dls`` for ``label`` in every level of every subgroup column of
    ``frame`` (one evaluation set), and the unpaired DeLong test (pROC's ``roc.test(paired =
    FALSE)``) between every two levels of a subgroup where both AUCs exist."""
    rows = []
    for col in subgroups:
        if col not in frame:
            continue
        levels = {}
        for lv, g in frame.dropna(subset=[col]).groupby(frame[col].dropna().astype(str), sort=True):
            y, s = g["label"].astype(int).to_numpy(), g["dls"].to_numpy()
            rows.append({**base, "subgroup": col, "level": lv, "n": len(y), "n_pos": int(y.sum()),
                         **auc_fields(y, s, alpha)})
            if "auc" in rows[-1]:
                levels[lv] = (y, s)
        names = list(levels)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                t = delong_test_unpaired(*levels[a], *levels[b], alpha)
                rows.append({**base, "subgroup": col, "level": f"{a} vs {b}", "auc_a": t.auc_a, "auc_b": t.auc_b,
                             "diff": t.diff, "diff_ci_low": t.ci_low, "diff_ci_high": t.ci_high, "p": t.p,
                             "test": "unpaired DeLong (pROC roc.test, paired = FALSE)"})
    return rows
