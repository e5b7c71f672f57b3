"""The radiomics-signature step (workflow/rules/signature.smk)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from dlscore.evaluation import evaluation_sets
from dlscore.tables import write_table


SIGNATURE_TABLES = ("signature_selection", "signature_icc", "signature_redundancy", "signature_lasso_cv",
                    "signature_coefficients", "signature_fusion", "signature_discrimination",
                    "signature_comparisons", "radiomics_dls_correlation")


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
    from dlscore.signature import fit_fusion, fit_signature, icc_table, logit
    from dlscore.stats import auc_delong, delong_test, youden_cutoff
    sc = config["signature"]
    seed, alpha = int(config["seed"]), float(config["stats"]["alpha"])
    man = pd.read_parquet(validated)
    feats = _signature_features(config, features)
    cols = [c for c in feats.columns if c not in ("patient_id", "rater")]
    r1 = feats[feats["rater"] == "r1"].set_index("patient_id")
    train = man[(man["split"] == "training") & man["patient_id"].isin(r1.index)]
    lost = man.loc[(man["split"] == "training") & ~man["patient_id"].isin(r1.index), "patient_id"].tolist()
    icc = icc_table(feats, train["patient_id"], cols) if (feats["rater"] == "r2").any() else pd.DataFrame(
        {"feature": cols, "icc": np.nan, "note": "one rater: no stability filter"})
    sig = fit_signature(r1.loc[train["patient_id"], cols], train.set_index("patient_id")["label"].astype(int), seed,
                        icc, float(sc["icc_threshold"]), float(sc["max_correlation"]), int(sc["n_folds"]),
                        bool(sc.get("one_se", False)))
    sel = sig.tables["selection"]
    if lost:
        sel = pd.concat([sel, pd.DataFrame([{"step": f"training patients without features (left out): {len(lost)}",
                                              "n": len(lost)}])], ignore_index=True)
    df = man.copy()
    df["rasig"] = np.nan
    have = df["patient_id"].isin(r1.index)
    df.loc[have, "rasig"] = sig.score(r1.loc[df.loc[have, "patient_id"]])
    scores = {"RAsig": "rasig"}
    fusion_rows = []
    if dls_scores:
        d = pd.read_parquet(dls_scores)
        df = df.merge(d.loc[d["rater"] == "r1", ["patient_id", "dls"]], on="patient_id", how="left")
        df["dls_logit"] = logit(df["dls"])
        scores["DLS"] = "dls"
        clin = [c for c in sc.get("clinical", []) if c in df]
        for model, col, terms in (("RADLsig", "radlsig", ["rasig", "dls_logit"]),
                                  ("DLS + clinical", "dls_clinical", ["dls_logit", *clin])):
            if model == "DLS + clinical" and not clin:
                continue
            ok = df[terms].notna().all(axis=1)
            tr = df[(df["split"] == "training") & ok]
            try:
                tab, res = fit_fusion(tr["label"].astype(int).to_numpy(), tr[terms])
            except Exception as exc:  # e.g. perfect separation in a tiny training split
                fusion_rows.append(pd.DataFrame([{"model": model, "note": f"not estimable: {exc}"[:200]}]))
                continue
            fusion_rows.append(tab.assign(model=model))
            df.loc[ok, col] = res.predict(np.column_stack([np.ones(ok.sum()), df.loc[ok, terms].astype(float)]))
            scores[model] = col
    rows, comps, curves = [], [], {}
    for es, sub in evaluation_sets(df):
        name = es.name
        sub = sub[sub["label"].notna()]
        y = sub["label"].astype(int).to_numpy()
        for model, col in scores.items():
            ok = sub[col].notna().to_numpy()
            row = {"model": model, "set": name, "n": int(ok.sum()), "n_pos": int(y[ok].sum())}
            if ok.sum() and 0 < y[ok].sum() < ok.sum():
                a = auc_delong(y[ok], sub[col].to_numpy()[ok], alpha)
                row.update({"auc": a.auc, "auc_ci_low": a.ci_low, "auc_ci_high": a.ci_high, "auc_se": a.se, "note": ""})
                curves.setdefault(name, []).append((model, y[ok], sub[col].to_numpy()[ok]))
            else:
                row["note"] = "AUC not computable: needs both classes"
            rows.append(row)
        names = list(scores)
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                a_, b_ = scores[names[i]], scores[names[j]]
                ok = (sub[a_].notna() & sub[b_].notna()).to_numpy()
                if ok.sum() and 0 < y[ok].sum() < ok.sum():
                    t = delong_test(y[ok], sub[a_].to_numpy()[ok], sub[b_].to_numpy()[ok], alpha)
                    comps.append({"set": name, "a": names[i], "b": names[j], "n": int(ok.sum()), "auc_a": t.auc_a,
                                  "auc_b": t.auc_b, "diff": t.diff, "diff_ci_low": t.ci_low,
                                  "diff_ci_high": t.ci_high, "z": t.z, "p": t.p, "test": "paired DeLong, two-sided"})
    if not comps:
        comps = [{"note": "only one score: no comparison (RADLsig needs a DLS)"}]
    # correlation of the DLS (and deep features) with the radiomic features, all patients with both
    corr_rows, heat = [], None
    if dls_scores:
        from scipy.stats import spearmanr
        both = df[df["rasig"].notna() & df["dls"].notna()]["patient_id"]
        x = r1.loc[both, cols]
        x = x.loc[:, x.std() > 0]
        rho = x.rank().corrwith(df.set_index("patient_id").loc[both, "dls"].rank())
        top = rho.abs().sort_values(ascending=False).index[: int(sc.get("top_correlations", 20))]
        for c in top:
            r, p = spearmanr(x[c], df.set_index("patient_id").loc[both, "dls"])
            corr_rows.append({"radiomic_feature": c, "spearman_rho_with_dls": r, "p": p, "n": len(both),
                              "in_signature": c in sig.features})
        if deep_features:
            deep = pd.read_parquet(deep_features)
            deep = deep[deep["rater"] == "r1"].set_index("patient_id").loc[both].drop(columns="rater")
            deep = deep.loc[:, deep.std() > 0]
            dl_rho = deep.rank().corrwith(df.set_index("patient_id").loc[both, "dls"].rank())
            dtop = dl_rho.abs().sort_values(ascending=False).index[:10]
            mat = pd.concat([df.set_index("patient_id").loc[both, ["dls"]].rename(columns={"dls": "DLS"}),
                             deep[dtop]], axis=1)
            heat = pd.DataFrame({c: x[top].rank().corrwith(mat[c].rank()) for c in mat.columns})
    if not corr_rows:
        corr_rows = [{"note": "no DLS in this study: correlations with the DLS not computed"}]
    out = {"signature_selection": sel, "signature_icc": icc, "signature_redundancy": sig.tables["redundancy"],
           "signature_lasso_cv": sig.tables["lasso_cv"], "signature_coefficients": sig.coefficients(),
           "signature_fusion": pd.concat(fusion_rows) if fusion_rows else pd.DataFrame(
               [{"note": "no DLS in this study: RADLsig not fitted"}]),
           "signature_discrimination": pd.DataFrame(rows), "signature_comparisons": pd.DataFrame(comps),
           "radiomics_dls_correlation": pd.DataFrame(corr_rows)}
    for k, v in out.items():
        write_table(v, tables[k], config)
    # RAsig as a score (scores-only studies analyse it like any marker): probability + log-odds
    pd.DataFrame({"patient_id": df["patient_id"], "rater": "r1", "dls": 1 / (1 + np.exp(-df["rasig"])),
                  "continuous": df["rasig"]}).to_parquet(rasig_scores, index=False)
    trs = df[(df["split"] == "training") & df["rasig"].notna()]
    cut = youden_cutoff(trs["label"].astype(int), 1 / (1 + np.exp(-trs["rasig"])))
    write_table(pd.DataFrame([{"model": "rasig", "cutoff": cut, "rule": "RAsig: maximum Youden index on the "
                               "training split", "n_training": len(trs)}]), cutoff_out, config)
    _signature_figures(config, curves, heat, roc_fig, heatmap_fig, seed)


def _signature_figures(config, curves, heat, roc_fig, heatmap_fig, seed) -> None:
    from dlscore.plots import placeholder_figure
    from dlscore.plots.roc import plot_roc_panels
    sets = [s for s in curves if not s.startswith("training")] or list(curves)
    if sets:
        plot_roc_panels([(f"{s}: {config.get('label_name', 'label')}", curves[s]) for s in sets], roc_fig, seed=seed)
    else:
        placeholder_figure(roc_fig, "no set with both classes: no ROC")
    if heat is None:
        placeholder_figure(heatmap_fig, "no DLS in this study: no correlation heat-map")
        return
    from dlscore.plots.heatmap import correlation_heatmap
    correlation_heatmap(heat, heatmap_fig, "Spearman rho: radiomic features most correlated with the DLS\n"
                        "vs the DLS and its 10 most correlated deep features")
