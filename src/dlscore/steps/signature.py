"""The radiomics-signature step (workflow/rules/signature.smk)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from dlscore.evaluation import derivation_split, evaluation_sets
from dlscore.tables import write_table


SIGNATURE_TABLES = ("signature_selection", "signature_icc", "signature_redundancy", "signature_lasso_cv",
                    "signature_coefficients", "signature_fusion", "signature_discrimination",
                    "signature_comparisons", "signature_baselines", "radiomics_dls_correlation")


def _signature_features(config: Mapping[str, Any], features: str) -> pd.DataFrame:
    """The long feature table (patient_id, rater, features): our radiomics parquet, or a
    user's PyRadiomics CSV (``signature.id_column`` / ``id_pattern`` give the patient id)."""
    if str(features).endswith(".parquet"):
        f = pd.read_parquet(features)
        return pd.concat([f[["patient_id", "rater"]], f.select_dtypes("number")], axis=1)  # provenance text dropped
    from dlscore.signature import read_feature_table
    sc = config["signature"]
    return read_feature_table(features, sc.get("id_column", "Image"), sc.get("id_pattern", r"^([A-Za-z0-9]+-[0-9]+)"))


def signature(config: Mapping[str, Any], validated: str, features: str, tables: Mapping[str, str],
              rasig_scores: str, cutoff_out: str, roc_fig: str, heatmap_fig: str,
              dls_scores: str | None = None, deep_features: str | None = None) -> None:
    """RAsig (LASSO radiomics signature) fitted on the training split, RADLsig (RAsig + DLS)
    and DLS + clinical logistic models when a DLS exists; all frozen and applied to every
    cohort; AUCs (DeLong) and paired DeLong comparisons per set; Spearman correlation of the
    DLS and deep features with the radiomic features. See :mod:`dlscore.signature`."""
    from dlscore.evaluation import fusion_split
    from dlscore.signature import baseline_table, dls_correlations, fused_scores, logit, score_discrimination
    from dlscore.stats.discrimination import model_cutoff
    sc = config["signature"]
    man = pd.read_parquet(validated)
    feats = _signature_features(config, features)
    cols = [c for c in feats.columns if c not in ("patient_id", "rater")]
    r1 = feats[feats["rater"] == "r1"].set_index("patient_id")
    sig, out = _fit_rasig(config, man, feats, cols, r1)
    df = man.copy()
    df["rasig"] = np.nan
    have = df["patient_id"].isin(r1.index)
    df.loc[have, "rasig"] = sig.score(r1.loc[df.loc[have, "patient_id"]])
    scores, fusion_rows = {"RAsig": "rasig"}, []
    if dls_scores:
        d = pd.read_parquet(dls_scores)
        df = df.merge(d.loc[d["rater"] == "r1", ["patient_id", "dls"]], on="patient_id", how="left")
        df["dls_logit"] = logit(df["dls"])
        df, fused, fusion_rows = fused_scores(df, sc.get("clinical", []))
        scores = {"RAsig": "rasig", "DLS": "dls", **fused}
    alpha = float(config["stats"]["alpha"])
    rows, comps, curves = score_discrimination([(es.name, g) for es, g in evaluation_sets(df)], scores, alpha,
                                               fusion_split(df))
    corr_rows, heat = [], None
    if dls_scores:  # the DLS (and deep features) vs the radiomic features, all patients with both
        both = df[df["rasig"].notna() & df["dls"].notna()]["patient_id"]
        deep = None
        if deep_features:
            deep = pd.read_parquet(deep_features)
            deep = deep[deep["rater"] == "r1"].set_index("patient_id").loc[both].drop(columns="rater")
        corr_rows, heat = dls_correlations(df.set_index("patient_id").loc[both, "dls"], r1.loc[both, cols],
                                           sig.features, int(sc.get("top_correlations", 20)), deep)
    out.update({"signature_fusion": pd.concat(fusion_rows) if fusion_rows else pd.DataFrame(
                    [{"note": "no DLS in this study: RADLsig not fitted"}]),
                "signature_discrimination": pd.DataFrame(rows),
                "signature_comparisons": pd.DataFrame(comps or [{"note": "only one score: no comparison (RADLsig "
                                                                          "needs a DLS)"}]),
                "signature_baselines": baseline_table(rows, comps, alpha),
                "radiomics_dls_correlation": pd.DataFrame(corr_rows or [
                    {"note": "no DLS in this study: correlations with the DLS not computed"}])})
    for k in SIGNATURE_TABLES:
        write_table(out[k], tables[k], config)
    # RAsig as a score (scores-only studies analyse it like any marker): probability + log-odds
    pd.DataFrame({"patient_id": df["patient_id"], "rater": "r1", "dls": 1 / (1 + np.exp(-df["rasig"])),
                  "continuous": df["rasig"]}).to_parquet(rasig_scores, index=False)
    split = derivation_split(df)
    trs = df[(df["split"] == split) & df["rasig"].notna()]
    c = model_cutoff(trs["label"].astype(int), 1 / (1 + np.exp(-trs["rasig"])), split=split)
    rule = f"RAsig: {c['rule']}" if np.isfinite(c["cutoff"]) else f"{c['rule']} (RAsig)"
    write_table(pd.DataFrame([{"model": "rasig", "cutoff": c["cutoff"], "rule": rule, "n_training": len(trs)}]),
                cutoff_out, config)
    _signature_figures(config, curves, heat, roc_fig, heatmap_fig, int(config["seed"]))


def _fit_rasig(config: Mapping[str, Any], man: pd.DataFrame, feats: pd.DataFrame, cols: list[str], r1: pd.DataFrame):
    """RAsig fitted on the training patients (all labelled development patients of a
    cross-validated study) that have features; (signature, its tables)."""
    from dlscore.signature import fit_signature, icc_table
    sc = config["signature"]
    split = derivation_split(man)
    train = man[(man["split"] == split) & man["patient_id"].isin(r1.index)]
    lost = man.loc[(man["split"] == split) & ~man["patient_id"].isin(r1.index), "patient_id"].tolist()
    icc = icc_table(feats, train["patient_id"], cols) if (feats["rater"] == "r2").any() else pd.DataFrame(
        {"feature": cols, "icc": np.nan, "note": "one rater: no stability filter"})
    sig = fit_signature(r1.loc[train["patient_id"], cols], train.set_index("patient_id")["label"].astype(int),
                        int(config["seed"]), icc, float(sc["icc_threshold"]), float(sc["max_correlation"]),
                        int(sc["n_folds"]), bool(sc.get("one_se", False)))
    sel = sig.tables["selection"]
    if lost:
        sel = pd.concat([sel, pd.DataFrame([{"step": f"training patients without features (left out): {len(lost)}",
                                              "n": len(lost)}])], ignore_index=True)
    return sig, {"signature_selection": sel, "signature_icc": icc, "signature_redundancy": sig.tables["redundancy"],
                 "signature_lasso_cv": sig.tables["lasso_cv"], "signature_coefficients": sig.coefficients()}


def _signature_figures(config, curves, heat, roc_fig, heatmap_fig, seed) -> None:
    from dlscore.plots import placeholder_figure
    from dlscore.plots.roc import plot_roc_panels
    sets = [s for s in curves if not s.startswith(("training", "development"))] or list(curves)
    if sets:
        plot_roc_panels([(f"{s}: {config.get('label_name', 'label')}", curves[s]) for s in sets], roc_fig, seed=seed,
                        columns=2)
    else:
        placeholder_figure(roc_fig, "no set with both classes: no ROC")
    if heat is None:
        placeholder_figure(heatmap_fig, "no DLS in this study: no correlation heat-map")
        return
    from dlscore.plots.heatmap import correlation_heatmap
    correlation_heatmap(heat, heatmap_fig, "Spearman rho: radiomic features most correlated with the DLS\n"
                        "vs the DLS and its 10 most correlated deep features")
