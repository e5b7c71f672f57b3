"""The association step (workflow/rules/stats.smk)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from dlscore.evaluation import evaluation_sets, scored, suv_max_of
from dlscore.tables import write_table


def association(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], table1_out: str,
                table1_label_out: str, correlations_out: str, groups_out: str, cohort_means_out: str,
                qc_table: str | None = None, regression_out: str | None = None) -> None:
    """Table 1 (per cohort by label, and cohorts side by side), correlations of the DLS with
    metadata and SUVmax (from ``qc_table``), DLS across clinical groups (ANOVA / Kruskal-Wallis +
    post-hoc), the bootstrapped mean and SE of the DLS per cohort (config ``association``) and
    the multivariable linear regression of the DLS on the patient variables (``regression_out``)."""
    from dlscore.stats.association import (bootstrap_mean, compare_groups_continuous, correlation,
                                           group_from_breaks, table_one)
    ac = config.get("association", {})
    alpha, n_boot, seed = float(config["stats"]["alpha"]), int(config["stats"]["n_boot"]), int(config["seed"])
    man = pd.read_parquet(validated)
    cont = [c for c in ac.get("continuous", []) if c in man]
    cat = [c for c in ac.get("categorical", []) if c in man]
    write_table(table_one(man, "cohort", cont, cat, seed), table1_out, config)
    by_label = [table_one(g, "label", cont, cat, seed).assign(cohort=coh, label_name=config.get("label_name", "label"))
                for coh, g in man.groupby("cohort", sort=False) if g["label"].notna().any()]
    write_table(pd.concat(by_label, ignore_index=True) if by_label else pd.DataFrame({"note": ["no labels"]}),
                table1_label_out, config)
    def grouping(frame: pd.DataFrame, spec: Mapping[str, Any]) -> pd.Series:
        col = frame[spec["column"]]
        return group_from_breaks(col, spec["breaks"], spec["labels"]) if "breaks" in spec else col

    groups = {k: v for k, v in ac.get("groups", {}).items() if v["column"] in man}
    corr, grp, means = [], [], []
    suv = suv_max_of(qc_table)
    regression = []
    for model, f in score_files.items():
        df = scored(validated, f, suv=suv)
        score_col = "continuous" if "continuous" in df else "dls"  # scores-only: the marker's continuous score
        for set_name, sub in [("all patients", df), *((es.name, g) for es, g in evaluation_sets(df))]:
            regression += _regression_rows(sub, score_col, cont, cat, alpha, {"model": model, "set": set_name})
            for var in [c for c in [*ac.get("correlate", []), "suv_max"] if c in sub]:
                v = pd.to_numeric(sub[var], errors="coerce")
                binary = v.dropna().isin([0, 1]).all()
                c = correlation(sub[score_col], v, "point-biserial" if binary else "spearman", alpha)
                corr.append({"model": model, "set": set_name, "variable": var, "method": c.method, "n": c.n,
                             "r": c.r, "ci_low": c.ci_low, "ci_high": c.ci_high, "p": c.p,
                             "ci_method": "Fisher z" + (" (Bonett-Wright variance)" if c.method == "spearman" else "")})
            for gname, spec in groups.items():
                omni, post = compare_groups_continuous(sub[score_col], grouping(sub, spec).to_numpy(), spec.get("labels"))
                base = {"model": model, "set": set_name, "grouping": gname}
                grp.append({**base, "comparison": "omnibus", **omni})
                for _, r in post.iterrows():
                    grp.append({**base, "comparison": f"{r['group_b']} vs {r['group_a']}", **r.to_dict()})
        for coh, g in df.groupby("cohort", sort=False):
            means.append({"model": model, "cohort": coh, **bootstrap_mean(g[score_col], n_boot, seed, alpha),
                          "method": f"percentile bootstrap, {n_boot} replicates"})
    write_table(pd.DataFrame(corr), correlations_out, config)
    write_table(pd.DataFrame(grp) if grp else pd.DataFrame({"note": ["no association.groups column in the manifest"]}),
                groups_out, config)
    write_table(pd.DataFrame(means), cohort_means_out, config)
    if regression_out:
        write_table(pd.DataFrame(regression), regression_out, config)


def _regression_rows(sub: pd.DataFrame, score_col: str, cont, cat, alpha: float, base: Mapping[str, Any]) -> list[dict]:
    """The multivariable linear regression of the score on the continuous variables (and SUVmax)
    and the categorical ones (treatment coding, R's reference level) of one set."""
    from dlscore.clinical import design_matrix
    from dlscore.stats.association import linear_regression
    covs = {c: {"type": "continuous"} for c in [*cont, "suv_max"] if c in sub and sub[c].notna().any()}
    covs.update({c: {"type": "categorical"} for c in cat if c in sub and sub[c].nunique() > 1})
    if not covs:
        return [{**base, "note": "not computable: no patient variable (association.continuous/categorical)"}]
    X, _ = design_matrix(sub, covs)
    X = X.loc[:, X.notna().any() & (X.nunique() > 1)]
    fit = linear_regression(sub[score_col], X, alpha)
    return [{**base, **r, "method": "OLS, complete cases, t-based CI"} for r in fit.to_dict("records")]


def table_two(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs: str,
              out: str) -> None:
    """Table 2: characteristics of each outcome set (``survival.splits``; the ICI cohorts) by the
    lead model's group (high / low at its cutoff), with the Table 1 tests (patients without a
    score have no group and are not in it; the study flow counts them)."""
    from dlscore.stats.association import table_one
    from dlscore.study import group_labels, km_models
    ac = config.get("association", {})
    lead = km_models(config)[0]
    cut = float(pd.read_csv(cutoffs).set_index("model").at[lead, "cutoff"])
    df = scored(validated, score_files[lead])
    hi, lo = group_labels(config, lead)
    df["group"] = np.where(df["dls"] >= cut, hi, lo) if np.isfinite(cut) else None
    cont = [c for c in ac.get("continuous", []) if c in df]
    label = str(config.get("label_name", "label"))
    df[label] = df["label"]
    cat = [c for c in ac.get("categorical", []) if c in df] + ([label] if df["label"].notna().any() else [])
    parts = [table_one(g, "group", cont, cat, int(config["seed"])).assign(
                 set=es.name, model=lead, grouping=f"{lead} >= {cut:.4g}")
             for es, g in evaluation_sets(df, config["survival"]["splits"]) if g["group"].notna().any()]
    write_table(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {"note": [f"not computable: no {lead} group in the survival.splits sets"]}), out, config)
