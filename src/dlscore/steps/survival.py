"""The outcome steps (workflow/rules/survival.smk): Kaplan-Meier/Cox by marker group and the clinical validation."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from dlscore.evaluation import evaluation_sets, scored
from dlscore.tables import write_table


def survival(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs: str,
             out: str, at_risk_out: str, km_figs: Mapping[tuple[str, str], str]) -> None:
    from dlscore.plots import placeholder_figure
    from dlscore.plots.km import plot_km
    from dlscore.survival import compare_groups
    sv = config["survival"]
    alpha = float(config["stats"]["alpha"])
    from dlscore.study import endpoints, group_labels, scores_mode
    cuts = pd.read_csv(cutoffs).set_index("model")
    cut = cuts["cutoff"]
    rows, risk = [], []
    for model, f in score_files.items():
        df = scored(validated, f)
        hi_label, lo_label = group_labels(config, model)
        for es, g in evaluation_sets(df, sv["splits"]):
            set_name, cohort = es.name, es.slug  # the slug names the figures
            recorded = g["dls"].notna().any()
            g = g[g["dls"].notna()]
            for ep, spec in endpoints(config).items():
                row: dict[str, Any] = {"model": model, "set": set_name, "endpoint": ep, "unit": spec["unit"],
                                       "cutoff": float(cut[model]), "grouping": f"score >= {cut[model]:.4g} ({cuts.at[model, 'rule']})"}
                missing = (f"no cutoff ({cuts.at[model, 'rule']})" if not np.isfinite(cut[model]) else
                           f"{model} not recorded in {cohort}" if not recorded else
                           f"{spec['time']} not recorded in this set"
                           if spec["time"] not in g or g[spec["time"]].isna().all() else None)
                if missing:
                    row["note"] = f"not computable: {missing}"
                    rows.append(row)
                    if (model, cohort, ep) in km_figs:
                        placeholder_figure(km_figs[(model, cohort, ep)], f"{set_name}: not computable: {missing}")
                    continue
                g2 = g.dropna(subset=[spec["time"], spec["event"]])
                high = (g2["dls"] >= cut[model]).to_numpy()
                res = compare_groups(g2[spec["time"]], g2[spec["event"]], high, alpha)
                row.update(res)
                row.update({"hr_method": "Cox PH (Efron ties), Wald CI", "median_ci_method":
                            "KM Greenwood 'log' CI (R survfit default)", "note": f"{len(g) - len(g2)} patients without follow-up"
                            if len(g2) < len(g) else ""})
                rows.append(row)
                if (model, cohort, ep) in km_figs:
                    table = plot_km(g2[spec["time"]], g2[spec["event"]], high, km_figs[(model, cohort, ep)],
                                    spec["label"], spec["unit"], res, float(sv["at_risk_step"]),
                                    labels=(hi_label, lo_label),
                                    title=f"{set_name}: {spec['label']} by {hi_label if scores_mode(config) else model}",
                                    time_origin=sv.get("time_origin", "start of immunotherapy"))
                    for grp, counts in table.items():
                        risk.append({"model": model, "set": set_name, "endpoint": ep, "group": grp,
                                     **{f"t{i}": c for i, c in enumerate(counts)}})
    write_table(pd.DataFrame(rows), out, config)
    write_table(pd.DataFrame(risk), at_risk_out, config)


#: tables written by :func:`clinical_validation` (rule outputs use the same names)
CLINICAL_TABLES = ("cox_univariable", "cox_multivariable", "dcb", "dcb_logistic", "auc_comparisons", "cindex",
                   "hr_difference", "subgroups", "nomogram", "survival_calibration")


def _marker_frame(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str],
                  cutoffs: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Manifest with ``high:<m>`` (0/1, NaN when the marker is missing) and ``value:<m>``
    (continuous score) for every model/marker and every ``clinical.reference_markers`` entry.
    Returns (frame, marker -> printable label)."""
    from dlscore.study import scores_mode
    man = pd.read_parquet(validated)
    cut = pd.read_csv(cutoffs).set_index("model")["cutoff"]
    labels = {}
    for model, f in score_files.items():
        sc = pd.read_parquet(f)
        sc = sc[sc["rater"] == "r1"].set_index("patient_id")
        dls = sc["dls"].reindex(man["patient_id"]).to_numpy()
        value = (sc["continuous"] if "continuous" in sc else sc["dls"]).reindex(man["patient_id"]).to_numpy()
        man[f"high:{model}"] = np.where(np.isnan(dls) | (not np.isfinite(cut[model])), np.nan,
                                        (dls >= cut[model]).astype(float))
        man[f"value:{model}"] = value
        from dlscore.study import group_labels
        labels[model] = group_labels(config, model)[0] if scores_mode(config) else f"{model} DLS high"
    for name, spec in (config.get("clinical", {}).get("reference_markers") or {}).items():
        v = pd.to_numeric(man[spec["column"]], errors="coerce")
        man[f"high:{name}"] = (v >= float(spec["cutoff"])).astype(float).where(v.notna())
        man[f"value:{name}"] = pd.to_numeric(man[spec.get("continuous", spec["column"])], errors="coerce")
        labels[name] = spec.get("label", name)
    return man, labels


def clinical_validation(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs: str,
                        outs: Mapping[str, str], forest_figs: Mapping[tuple[str, str, str], str]) -> None:
    """Cox (univariable, multivariable with Schoenfeld check), DCB (rates, AUC, logistic),
    C-index of marker + clinical vs clinical-only (fitted on the development cohort),
    bootstrap CI of HR differences and subgroup analyses, per ICI set and endpoint.

    ``outs`` keys: :data:`CLINICAL_TABLES`. The nomogram (points table) and the survival
    calibration at ``clinical.calibration_months`` are for the marker + clinical Cox model
    fitted on the development cohort."""
    from dlscore.clinical import (compare_cindex, cox_fit, design_matrix, hr_difference_bootstrap, logistic_fit,
                                  points_table, rates_by_group, reference_of, subgroup_table, survival_calibration)
    from dlscore.plots import placeholder_figure
    from dlscore.plots.forest import plot_forest
    from dlscore.stats import auc_delong, delong_test
    from dlscore.study import endpoints, group_labels
    cl = config.get("clinical", {})
    alpha, seed, n_boot = float(config["stats"]["alpha"]), int(config["seed"]), int(config["stats"]["n_boot"])
    man, labels = _marker_frame(config, validated, score_files, cutoffs)
    markers = list(labels)
    covs = {k: v for k, v in (cl.get("covariates") or {}).items() if k in man}
    X_all, terms = design_matrix(man, covs)
    planned = evaluation_sets(man, config["survival"]["splits"])
    sets = [(es.name, g) for es, g in planned]
    slugs = {es.name: es.slug for es, _ in planned}
    if not sets:
        raise ValueError("no evaluation set for the clinical analysis: check survival.splits")
    dev_cohort = cl.get("development_cohort")
    dev_name = next((n for n, g in sets if dev_cohort is not None and (g["cohort"] == dev_cohort).all()), sets[0][0])
    p_enter = float(cl.get("multivariable", {}).get("p_enter", 0.05))
    forced = [c for c in cl.get("multivariable", {}).get("forced", []) if c in covs]
    dcb = cl.get("dcb")
    has_dcb = bool(dcb) and dcb in man and man[dcb].notna().any()
    T: dict[str, list] = {k: [] for k in CLINICAL_TABLES}
    horizon = float(cl.get("calibration_months", 12))

    def missing_in(g: pd.DataFrame, cols) -> list[str]:
        return [c for c in cols if c in g and g[c].isna().all()]

    no_cut = pd.read_csv(cutoffs).set_index("model")["rule"]
    no_cut = {m: r for m, r in no_cut.items() if str(r).startswith("not computable")}

    def absent(g: pd.DataFrame, *ms: str) -> str | None:
        """"not computable: <marker> not recorded in <cohort>" when a marker has no value here."""
        for m in ms:
            if m in no_cut:
                return f"not computable: {labels[m]} has no cutoff ({no_cut[m][len('not computable: '):]})"
        gone = [labels[m] for m in ms if g[f"high:{m}"].isna().all()]
        where = ", ".join(dict.fromkeys(g["cohort"].astype(str))) if len(g) else "this set"
        return f"not computable: {' and '.join(gone)} not recorded in {where}" if gone else None

    def term_rows(fit: dict, base: dict, ref_terms: dict) -> list[dict]:
        if fit["terms"].empty:
            return [{**base, "n": fit["n"], "events": fit["events"], "note": fit["note"]}]
        return [{**base, "term": r["term"], "reference": ref_terms.get(r["term"], ""), "n": fit["n"],
                 "events": fit["events"], **{k: r[k] for k in r.index if k != "term"}, "note": fit["note"]}
                for _, r in fit["terms"].iterrows()]

    ref_terms = {t: f"vs {reference_of(man, c, covs[c])}" for c, ts in terms.items() for t in ts
                 if covs[c].get("type") == "categorical"}
    ref_terms.update({f"high:{m}": "vs low" for m in markers})
    # ------------------------------------------------------------------ survival endpoints
    for ep, spec in endpoints(config).items():
        tcol, ecol = spec["time"], spec["event"]
        uni_dev: dict[str, float] = {}
        for set_name, g in sets:
            g = g[g[tcol].notna() & g[ecol].notna()]
            base = {"set": set_name, "endpoint": ep}
            if g.empty:
                T["cox_univariable"].append({**base, "note": f"not computable: {tcol} not recorded in this set"})
                continue
            for c, ts in terms.items():
                if not ts:
                    continue
                if missing_in(g, [c]):
                    T["cox_univariable"].append({**base, "variable": c, "note": f"{c} not recorded in this set"})
                    continue
                fit = cox_fit(g[tcol], g[ecol], X_all.loc[g.index, ts], alpha)
                T["cox_univariable"] += term_rows(fit, {**base, "variable": c}, ref_terms)
                if set_name == dev_name:
                    uni_dev[c] = float(fit["terms"]["p"].min()) if not fit["terms"].empty else np.nan
            for m in markers:
                if absent(g, m):
                    T["cox_univariable"].append({**base, "variable": labels[m], "note": absent(g, m)})
                    continue
                fit = cox_fit(g[tcol], g[ecol], g[[f"high:{m}"]], alpha)
                T["cox_univariable"] += term_rows(fit, {**base, "variable": labels[m]}, ref_terms)
        selected = [c for c in covs if c in forced or uni_dev.get(c, np.nan) < p_enter]
        sel_terms = [t for c in selected for t in terms[c]]
        rule = f"covariates with univariable p < {p_enter:g} in {dev_name}" + (f", plus forced {forced}" if forced else "")
        dev_rows = dict(sets)[dev_name]
        dev_rows = dev_rows[dev_rows[tcol].notna() & dev_rows[ecol].notna()]
        for m in markers:
            cols_full = [f"high:{m}", *sel_terms]
            data_all = pd.concat([man[[tcol, ecol]], X_all, man[[f"high:{m}"]]], axis=1)
            dev_fit = {key: cox_fit(dev_rows[tcol], dev_rows[ecol], data_all.loc[dev_rows.index, cols], alpha)
                       for key, cols in (("full", cols_full), ("clinical", sel_terms))}
            nom_base = {"endpoint": ep, "model": f"{labels[m]} + {', '.join(selected) or 'no covariate'}",
                        "fitted_on": dev_name}
            if "model" in dev_fit["full"]:
                dterms = {labels[m]: [f"high:{m}"], **{c: terms[c] for c in selected}}
                pts, tot = points_table(dev_fit["full"]["model"], data_all.loc[dev_rows.index, cols_full].dropna(),
                                        dterms, horizon,
                                        references={c: reference_of(man, c, covs[c]) for c in selected})
                T["nomogram"] += [{**nom_base, "table": "points", **r} for r in pts.to_dict("records")]
                T["nomogram"] += [{**nom_base, "table": f"total points -> {spec['label']} at {horizon:g} {spec['unit']}",
                                   "level": f"{r['total_points']:.0f} points",
                                   "points": r["total_points"], "predicted_survival": r[f"survival_at_{horizon:g}"]}
                                  for r in tot.to_dict("records")]
            else:
                T["nomogram"].append({**nom_base, "note": f"not computable: {dev_fit['full']['note']}"})
            for set_name, g in sets:
                g = g[g[tcol].notna() & g[ecol].notna()]
                base = {"set": set_name, "endpoint": ep, "model": labels[m], "covariates": ", ".join(selected) or "none",
                        "selection": rule}
                gone = missing_in(g, selected) + ([labels[m]] if absent(g, m) else [])
                if gone:
                    T["cox_multivariable"].append({**base, "note": absent(g, m) or
                                                   f"not computable: {', '.join(gone)} not recorded in this set"})
                else:
                    fit = cox_fit(g[tcol], g[ecol], data_all.loc[g.index, cols_full], alpha)
                    rows = term_rows(fit, base, ref_terms)
                    for r in rows:
                        r.update({"ph_global_min_p": fit["ph_min_p"], "concordance": fit["concordance"]})
                    T["cox_multivariable"] += rows
                # C-index: models fitted on the development set, applied unchanged here
                crow: dict[str, Any] = {"set": set_name, "endpoint": ep, "model_a": f"{labels[m]} + clinical",
                                        "model_b": "clinical only", "covariates": ", ".join(selected) or "none",
                                        "fitted_on": dev_name}
                if gone or not sel_terms or "model" not in dev_fit["full"] or "model" not in dev_fit["clinical"]:
                    why = (absent(g, m)[len("not computable: "):] if absent(g, m) else
                           f"{', '.join(gone)} not recorded in this set" if gone else
                           "no clinical covariate selected" if not sel_terms else
                           dev_fit["full"]["note"] or dev_fit["clinical"]["note"])
                    T["cindex"].append({**crow, "note": f"not computable: {why}"})
                    continue
                d = data_all.loc[g.index, cols_full].dropna()
                pred = dev_fit["full"]["model"].predict_survival_function(d[cols_full], times=[horizon]).iloc[0]
                cal = survival_calibration(g.loc[d.index, tcol], g.loc[d.index, ecol], pred.to_numpy(), horizon,
                                           3, min(n_boot, 1000), seed, alpha)
                T["survival_calibration"] += [{"set": set_name, "endpoint": ep, "model": nom_base["model"],
                                               "horizon": horizon, "unit": spec["unit"], **r,
                                               "method": "tertiles of predicted survival; observed = KM, percentile "
                                                         "bootstrap CI"} for r in cal.to_dict("records")]
                ra = dev_fit["full"]["model"].predict_log_partial_hazard(d[cols_full]).to_numpy()
                rb = dev_fit["clinical"]["model"].predict_log_partial_hazard(d[sel_terms]).to_numpy()
                res = compare_cindex(g.loc[d.index, tcol], g.loc[d.index, ecol], ra, rb, min(n_boot, 2000), seed, alpha)
                T["cindex"].append({**crow, **res, "ci_method": f"paired percentile bootstrap ({res['n_boot']} replicates)",
                                    "test": "z-test, U-statistic variance (compareC approach)",
                                    "note": "apparent (same patients as the fit)" if set_name == dev_name else ""})
        for a, b in cl.get("hr_difference", []):
            if a not in labels or b not in labels:
                continue
            for set_name, g in sets:
                if absent(g, a, b):
                    T["hr_difference"].append({"set": set_name, "endpoint": ep, "marker_a": labels[a],
                                               "marker_b": labels[b], "note": absent(g, a, b)})
                    continue
                g = g.dropna(subset=[tcol, ecol, f"high:{a}", f"high:{b}"])
                res = hr_difference_bootstrap(g[tcol], g[ecol], g[f"high:{a}"], g[f"high:{b}"], n_boot, seed, alpha)
                T["hr_difference"].append({"set": set_name, "endpoint": ep, "marker_a": labels[a], "marker_b": labels[b],
                                           "n": len(g), **res,
                                           "method": "paired percentile bootstrap of HR_a - HR_b (patients resampled, "
                                                     "both Cox models refitted, Efron ties)"})
        for m in markers:
            for set_name, g in sets:
                cohort = slugs[set_name]
                key = (m, cohort, ep)
                if g[tcol].isna().all() or absent(g, m):
                    why = absent(g, m) or f"not computable: {spec['label']} not recorded"
                    T["subgroups"].append({"set": set_name, "endpoint": ep, "marker": labels[m], "note": why})
                    if key in forest_figs:
                        placeholder_figure(forest_figs[key], f"{set_name}: {why}")
                    continue
                sub = subgroup_table(g.dropna(subset=[f"high:{m}"]), tcol, ecol, f"high:{m}",
                                     [s for s in cl.get("subgroups", []) if s in g and g[s].notna().any()],
                                     dcb if has_dcb else None, alpha)
                T["subgroups"] += [{"set": set_name, "endpoint": ep, "marker": labels[m], **r}
                                   for r in sub.to_dict("records")]
                if key in forest_figs:
                    plot_forest(sub, forest_figs[key], title=f"{set_name}: {spec['label']} by {labels[m]}",
                                high_label=group_labels(config, m)[0], endpoint=spec["label"],
                                low_label=group_labels(config, m)[1])
    # ------------------------------------------------------------------ durable clinical benefit
    if has_dcb:
        uni_dev = {}
        for set_name, g in sets:
            g = g[g[dcb].notna()]
            base = {"set": set_name}
            for c, ts in terms.items():
                if not ts:
                    continue
                if missing_in(g, [c]):
                    T["dcb_logistic"].append({**base, "model": "univariable", "variable": c,
                                              "note": f"{c} not recorded in this set"})
                    continue
                fit = logistic_fit(g[dcb], X_all.loc[g.index, ts], alpha)
                T["dcb_logistic"] += term_rows(fit, {**base, "model": "univariable", "variable": c}, ref_terms)
                if set_name == dev_name:
                    uni_dev[c] = float(fit["terms"]["p"].min()) if not fit["terms"].empty else np.nan
        selected = [c for c in covs if c in forced or uni_dev.get(c, np.nan) < p_enter]
        sel_terms = [t for c in selected for t in terms[c]]
        for set_name, g in sets:
            g = g[g[dcb].notna()]
            gone = missing_in(g, selected)
            for m in markers:
                if absent(g, m):
                    T["dcb"].append({"set": set_name, "marker": labels[m], "note": absent(g, m)})
                    continue
                gm = g[g[f"high:{m}"].notna()]
                row: dict[str, Any] = {"set": set_name, "marker": labels[m], **rates_by_group(gm[dcb], gm[f"high:{m}"] == 1)}
                v = g[g[f"value:{m}"].notna()]
                yv = v[dcb].astype(int).to_numpy()
                if len(v) and 0 < yv.sum() < len(yv):
                    a = auc_delong(yv, v[f"value:{m}"].to_numpy(), alpha)
                    row.update({"auc_n": len(v), "auc": a.auc, "auc_ci_low": a.ci_low, "auc_ci_high": a.ci_high,
                                "auc_ci_method": "DeLong"})
                else:
                    row["auc_note"] = "AUC not computable: continuous score not recorded in this set" if not len(v) \
                        else "AUC not computable: one DCB class"
                T["dcb"].append(row)
                T["dcb_logistic"] += term_rows(logistic_fit(gm[dcb], gm[[f"high:{m}"]], alpha),
                                               {"set": set_name, "model": "univariable", "variable": labels[m]}, ref_terms)
                mbase = {"set": set_name, "model": f"multivariable ({', '.join(selected) or 'no covariate selected'})",
                         "variable": labels[m]}
                if gone:
                    T["dcb_logistic"].append({**mbase, "note": f"not computable: {', '.join(gone)} not recorded in this set"})
                elif sel_terms:
                    T["dcb_logistic"] += term_rows(logistic_fit(gm[dcb], pd.concat([gm[[f"high:{m}"]],
                                                                                    X_all.loc[gm.index, sel_terms]], axis=1),
                                                                alpha), mbase, ref_terms)
            for a, b in cl.get("auc_comparisons", []):
                if a not in labels or b not in labels:
                    continue
                v = g.dropna(subset=[f"value:{a}", f"value:{b}"])
                y = v[dcb].astype(int).to_numpy()
                row = {"set": set_name, "outcome": "DCB", "score_a": labels[a], "score_b": labels[b], "n": len(v)}
                if len(v) and 0 < y.sum() < len(y):
                    t = delong_test(y, v[f"value:{a}"].to_numpy(), v[f"value:{b}"].to_numpy(), alpha)
                    row.update({"auc_a": t.auc_a, "auc_b": t.auc_b, "diff": t.diff, "diff_ci_low": t.ci_low,
                                "diff_ci_high": t.ci_high, "z": t.z, "p": t.p, "test": "paired DeLong, two-sided"})
                else:
                    row["note"] = absent(g, a, b) or ("not computable: one DCB class" if len(v) else
                                                      "not computable: a continuous score is not recorded in this set")
                T["auc_comparisons"].append(row)
    for key, rows in T.items():
        df = pd.DataFrame(rows) if rows else pd.DataFrame({"note": [f"nothing to report ({key}): see config clinical"]})
        write_table(df, outs[key], config)
