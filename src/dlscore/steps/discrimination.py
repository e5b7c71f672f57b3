"""The discrimination steps (workflow/rules/discrimination.smk): cutoffs, AUC, calibration, decision curves, inter-rater ICC."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from dlscore.evaluation import evaluation_sets, score_basis, scored, suv_max_of
from dlscore.stats.discrimination import model_comparisons
from dlscore.typography import p_text
from dlscore.study import display_name
from dlscore.tables import write_table


#: the SUVmax comparator's name in the comparisons table and the comparator ROC
SUVMAX = "SUVmax (PET, rater-1 mask)"


def cutoffs(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], out: str) -> None:
    """The cutoff of every model (``models.<m>.cutoff`` when fixed, else the maximum Youden
    index of the DLS on the training split, or on the out-of-fold development scores of a
    cross-validated study): a step of its own, right after scoring, so that survival and
    clinical analyses wait for the scores only."""
    from dlscore.evaluation import derivation_split
    from dlscore.stats.discrimination import model_cutoff
    rows = []
    for model, f in score_files.items():
        tr = scored(validated, f)
        split = derivation_split(tr)
        tr = tr[tr["split"] == split]
        c = model_cutoff(tr["label"], tr["dls"], config["models"].get(model, {}).get("cutoff"), split)
        rows.append({"model": model, **{k: c[k] for k in ("cutoff", "rule", "n_training")}})
    write_table(pd.DataFrame(rows), out, config)


def discrimination(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs_csv: str,
                   qc_table: str, table_out: str, comparisons_out: str, roc_figs: Mapping[str, str],
                   subgroups_out: str, comparators_fig: str | None = None) -> None:
    """AUC (primary and secondary labels) and metrics at the cutoff per model and evaluation
    set; paired DeLong comparisons with SUVmax (from the QC table) and between models; ROC;
    AUC per level of the ``subgroup_aucs`` columns with unpaired DeLong tests between levels;
    ``comparators_fig``: the primary model's ROC with its comparators' on the same axes."""
    from dlscore.plots.roc import plot_roc
    from dlscore.stats.discrimination import comparator_row, cutoff_of, primary_row, secondary_row, subgroup_auc_rows
    st = config["stats"]
    alpha, n_boot, seed = float(st["alpha"]), int(st["n_boot"]), int(config["seed"])
    label_name = config.get("label_name", "label")
    suv = suv_max_of(qc_table)
    cuts = pd.read_csv(cutoffs_csv).set_index("model")
    rows, comps, by_subgroup = [], [], []
    labelled: dict[str, dict[str, pd.DataFrame]] = {}  # model -> set -> patient_id, label, dls
    suv_sets: dict[str, pd.DataFrame] = {}  # set -> patient_id, label, dls = SUVmax (the primary model's patients)
    for model, f in score_files.items():
        df = scored(validated, f, suv=suv)
        cut, curves = cutoff_of(cuts, model), []
        for es, sub in evaluation_sets(df):
            for sec in config.get("secondary_labels", []):
                ss = sub[sub[sec].notna()]
                rows.append(secondary_row(ss[sec].astype(int).to_numpy(), ss["dls"].to_numpy(),
                                          {"model": model, "label": sec, "analysis": "secondary", "set": es.name},
                                          label_name, sec, alpha))
            sub = sub[sub["label"].notna()]
            labelled.setdefault(model, {})[es.name] = sub[["patient_id", "label", "dls"]]
            by_subgroup += subgroup_auc_rows(sub, config.get("subgroup_aucs", []), {"model": model, "set": es.name},
                                             alpha)
            y, s = sub["label"].astype(int).to_numpy(), sub["dls"].to_numpy()
            row = primary_row(y, s, {"model": model, "label": label_name, "analysis": "primary", "set": es.name,
                                     **score_basis(sub)}, cut, n_boot, seed, alpha)
            rows.append(row)
            if "auc" not in row:
                continue
            curves.append((es.name, y, s))
            if "suv_max" in sub and sub["suv_max"].notna().all():
                if model == config["primary_model"]:
                    suv_sets[es.name] = sub[["patient_id", "label", "suv_max"]].rename(columns={"suv_max": "dls"})
                if np.isfinite(cut["cutoff"]):
                    comps.append(comparator_row(y, s, sub["suv_max"].to_numpy(), {"model": model, "set": es.name},
                                                SUVMAX, alpha))
        plot_roc(curves, roc_figs[model], title=f"{display_name(config, model)} for {label_name}", seed=seed)
    comps += model_comparisons(labelled, alpha)
    if comparators_fig:
        _comparator_roc(config, {**labelled, **({SUVMAX: suv_sets} if suv_sets else {})}, comps, comparators_fig)
    write_table(pd.DataFrame(rows).sort_values(["model", "analysis", "label"], kind="stable"), table_out, config)
    if not comps:
        comps = [{"note": "no comparator in this study (SUVmax needs a PET modality: imaging.suv_modality)"}]
    write_table(pd.DataFrame(comps), comparisons_out, config)
    write_table(pd.DataFrame(by_subgroup) if by_subgroup else pd.DataFrame(
        {"note": ["no subgroup AUC: config subgroup_aucs lists no manifest column"]}), subgroups_out, config)


def _comparator_roc(config: Mapping[str, Any], labelled: Mapping[str, Mapping[str, pd.DataFrame]],
                    comps: list[dict], path: str) -> None:
    """One panel per evaluation set: the primary model's ROC and those of its comparators (the
    other models: modality ablations; SUVmax) on the same patients, each comparator's paired
    DeLong p against the primary model (from the comparisons table) in the legend."""
    from dlscore.plots import placeholder_figure
    from dlscore.plots.roc import plot_roc_panels
    primary = config["primary_model"]
    shown = display_name(config, primary)
    p_of = {}
    for c in comps:
        other = str(c.get("comparator", "")).removeprefix("model ")
        if c.get("model") == primary:
            p_of[(c["set"], other)] = c["p"]
        elif other == primary:
            p_of[(c["set"], c["model"])] = c["p"]
    panels = []
    for set_name, d in (labelled.get(primary) or {}).items():
        curves = [(shown, d["label"].astype(int).to_numpy(), d["dls"].to_numpy())]
        for name, sets in labelled.items():
            if name == primary or set_name not in sets or (set_name, name) not in p_of:
                continue
            m = d[["patient_id"]].merge(sets[set_name], on="patient_id")
            short = "SUVmax" if name == SUVMAX else display_name(config, name)
            curves.append((f"{short} ({p_text(p_of[(set_name, name)])} vs {shown})", m["label"].astype(int).to_numpy(),
                           m["dls"].to_numpy()))
        if len(curves) > 1 and d["label"].nunique() == 2:
            panels.append((set_name, curves))
    if not panels:
        placeholder_figure(path, "no comparator of the primary model in this study (another model, or SUVmax)")
        return
    plot_roc_panels(panels, path, n_boot=0, seed=int(config["seed"]), columns=2)


def calibration(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], table_out: str,
                figs: Mapping[str, str]) -> None:
    """Brier, recalibration intercept/slope, calibration-in-the-large and Hosmer-Lemeshow of
    the DLS read as a probability, per model and evaluation set; calibration plot."""
    from dlscore.plots.calibration import plot_calibration
    from dlscore.stats.calibration import brier, hosmer_lemeshow, recalibration
    alpha = float(config["stats"]["alpha"])
    rows = []
    for model, f in score_files.items():
        curves = []
        for es, sub in evaluation_sets(scored(validated, f)):
            name = es.name
            sub = sub[sub["label"].notna()]
            y, p = sub["label"].astype(int).to_numpy(), sub["dls"].to_numpy()
            row: dict[str, Any] = {"model": model, "set": name, "n": len(y), "n_pos": int(y.sum()), **score_basis(sub)}
            if len(y) < 10 or y.min() == y.max():
                row["note"] = "not computable: fewer than 10 patients or one class"
                rows.append(row)
                continue
            rc = recalibration(y, p, alpha)
            chi2, df, hl_p = hosmer_lemeshow(y, p, min(10, len(y) // 5))
            row.update({"brier": brier(y, p), "intercept": rc.intercept, "slope": rc.slope,
                        "slope_ci_low": rc.slope_ci_low, "slope_ci_high": rc.slope_ci_high,
                        "citl": rc.citl, "citl_ci_low": rc.citl_ci_low, "citl_ci_high": rc.citl_ci_high,
                        "hl_chi2": chi2, "hl_df": df, "hl_p": hl_p,
                        "method": "logistic recalibration on logit(DLS) (Wald CI); HL over quantile groups",
                        "note": ""})
            rows.append(row)
            curves.append((name, y, p))
        plot_calibration(curves, figs[model], title=f"{display_name(config, model)}: calibration")
    write_table(pd.DataFrame(rows), table_out, config)


def clinical_utility(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs: str,
                     table_out: str, dca_figs: Mapping[str, str], dist_figs: Mapping[str, str]) -> None:
    """Decision curves (net benefit vs treat-all / treat-none, thresholds 0.05-0.95) for the
    cohorts not used for fitting, and the DLS distribution by label in every cohort."""
    from dlscore.plots.distribution import plot_decision_curves, plot_dls_by_label
    from dlscore.stats.decision import net_benefit
    cut = pd.read_csv(cutoffs).set_index("model")["cutoff"]
    label = config.get("label_name", "label")
    thresholds = np.round(np.arange(0.05, 0.951, 0.05), 2)
    tables = []
    for model, f in score_files.items():
        sets = [(n, g[g["label"].notna()]) for es, g in evaluation_sets(scored(validated, f)) for n in [es.name]]
        curves = []
        for name, g in sets:
            if name == "training" or g["label"].nunique() < 2:
                continue
            nb = net_benefit(g["label"].astype(int), g["dls"], thresholds)
            curves.append((f"{name} (n={len(g)})", nb))
            tables.append(nb.assign(model=model, set=name, n=len(g)))
        if curves:
            plot_decision_curves(curves, dca_figs[model], title=f"{display_name(config, model)}: decision curves for {label}")
        dist = pd.concat([g.assign(set=n) for n, g in sets])[["set", "label", "dls"]]
        plot_dls_by_label(dist, float(cut[model]), dist_figs[model], label,
                          title=f"{display_name(config, model)} by {label}")
    cols = ["model", "set", "n", "threshold", "net_benefit", "treat_all", "treat_none"]
    out = pd.concat(tables)[cols] if tables else pd.DataFrame({"note": ["no labelled cohort besides training"]})
    write_table(out, table_out, config)


def reproducibility(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], out: str) -> None:
    from dlscore.stats import icc
    form = config["stats"]["icc_form"]
    rows = []
    man = pd.read_parquet(validated)
    for model, f in score_files.items():
        sc = pd.read_parquet(f).pivot(index="patient_id", columns="rater", values="dls")
        if "r2" not in sc:
            rows.append({"model": model, "set": "all", "n": 0, "form": form,
                         "note": "only one rater's masks in this study: inter-rater ICC not computable"})
            continue
        both = sc.dropna(subset=["r1", "r2"]).join(man.set_index("patient_id")[["cohort", "split"]])
        groups = [(f"{c} ({s})", g) for (c, s), g in both.groupby(["cohort", "split"], sort=False)]
        groups.append(("all patients with two raters", both))
        for name, g in groups:
            row = {"model": model, "set": name, "n": len(g), "form": form}
            if len(g) < 3:
                row["note"] = "fewer than 3 patients with two raters"
            else:
                r = icc(g[["r1", "r2"]].to_numpy(), form, float(config["stats"]["alpha"]))
                row.update({"icc": r.icc, "ci_low": r.ci_low, "ci_high": r.ci_high, "p": r.p, "F": r.f,
                            "df1": r.df1, "df2": r.df2, "ci_method": "F distribution (Shrout & Fleiss)",
                            "mean_abs_diff": float((g["r1"] - g["r2"]).abs().mean()), "note": ""})
            rows.append(row)
    write_table(pd.DataFrame(rows), out, config)
