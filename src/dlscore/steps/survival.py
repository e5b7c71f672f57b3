"""The outcome steps (workflow/rules/survival.smk): Kaplan-Meier/Cox by marker group and the clinical validation."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from dlscore.evaluation import evaluation_sets, scored
from dlscore.tables import write_table


def survival(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs: str,
             out: str, at_risk_out: str, km_figs: Mapping[tuple[str, str], str]) -> None:
    """Kaplan-Meier medians, log-rank test and Cox HR of high vs low score per model, set and
    endpoint, the KM figures and their at-risk tables; a held-out split with several cohorts is
    also analysed pooled, stratified by cohort (log-rank and Cox)."""
    from dlscore.study import endpoints
    cuts = pd.read_csv(cutoffs).set_index("model")
    rows, risk = [], []
    for model, f in score_files.items():
        for name, slug, g, stratified in _survival_sets(scored(validated, f), config["survival"]["splits"]):
            for ep, spec in endpoints(config).items():
                row, drawn = _survival_row(config, model, name, slug, g, stratified, ep, spec, cuts, km_figs)
                rows.append(row)
                risk += drawn
    write_table(pd.DataFrame(rows), out, config)
    write_table(pd.DataFrame(risk), at_risk_out, config)


def _survival_sets(df: pd.DataFrame, splits) -> list[tuple[str, str | None, pd.DataFrame, bool]]:
    """(name, figure slug or None, rows, stratified by cohort): every evaluation set, then each
    held-out split with more than one cohort, pooled."""
    from dlscore.evaluation import DEVELOPMENT_SPLITS
    out = [(es.name, es.slug, g, False) for es, g in evaluation_sets(df, splits)]
    for split in splits:
        g = df[df["split"] == split]
        if split not in DEVELOPMENT_SPLITS and g["cohort"].nunique() > 1:
            out.append((f"{split} cohorts pooled (stratified by cohort)", None, g, True))
    return out


def _survival_row(config, model: str, set_name: str, slug: str | None, g: pd.DataFrame, stratified: bool, ep: str,
                  spec: Mapping[str, Any], cuts: pd.DataFrame, km_figs) -> tuple[dict, list[dict]]:
    """One row of the survival table (and the KM figure with its at-risk rows when planned)."""
    from dlscore.plots import placeholder_figure
    from dlscore.plots.km import plot_km
    from dlscore.study import display_name, group_labels, scores_mode
    from dlscore.survival import compare_groups
    sv, cut, rule = config["survival"], float(cuts.at[model, "cutoff"]), cuts.at[model, "rule"]
    fig = km_figs.get((model, slug, ep)) if slug is not None else None
    row: dict[str, Any] = {"model": model, "set": set_name, "endpoint": ep, "unit": spec["unit"], "cutoff": cut,
                           "grouping": f"score >= {cut:.4g} ({rule})"}
    recorded = g["dls"].notna().any()
    g = g[g["dls"].notna()]
    missing = (f"no cutoff ({rule})" if not np.isfinite(cut) else f"{model} not recorded in {slug or set_name}"
               if not recorded else f"{spec['time']} not recorded in this set"
               if spec["time"] not in g or g[spec["time"]].isna().all() else None)
    if missing:
        if fig:
            placeholder_figure(fig, f"{set_name}: not computable: {missing}")
        return {**row, "note": f"not computable: {missing}"}, []
    g2 = g.dropna(subset=[spec["time"], spec["event"]])
    high = (g2["dls"] >= cut).to_numpy()
    res = compare_groups(g2[spec["time"]], g2[spec["event"]], high, float(config["stats"]["alpha"]),
                         strata=g2["cohort"].to_numpy() if stratified else None)
    row.update(res)
    row.update({"hr_method": "Cox PH (Efron ties), Wald CI" + (", stratified by cohort" if stratified else ""),
                "median_ci_method": "KM Greenwood 'log' CI (R survfit default)",
                "note": f"{len(g) - len(g2)} patients without follow-up" if len(g2) < len(g) else ""})
    if not fig:
        return row, []
    hi_label, lo_label = group_labels(config, model)
    table = plot_km(g2[spec["time"]], g2[spec["event"]], high, fig, spec["label"], spec["unit"], res,
                    float(sv["at_risk_step"]), labels=(hi_label, lo_label),
                    title=f"{set_name}: {spec['label']} by {hi_label if scores_mode(config) else display_name(config, model)}",
                    time_origin=sv.get("time_origin", "start of immunotherapy"))
    return row, [{"model": model, "set": set_name, "endpoint": ep, "group": grp,
                  **{f"t{i}": c for i, c in enumerate(counts)}} for grp, counts in table.items()]


#: tables written by :func:`clinical_validation` (rule outputs use the same names)
CLINICAL_TABLES = ("cox_univariable", "cox_multivariable", "dcb", "dcb_logistic", "dcb_validation", "auc_comparisons",
                   "cindex", "hr_difference", "subgroups", "nomogram", "survival_calibration", "marker_coverage",
                   "four_groups", "four_groups_logrank")


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


def _cohort(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs: str):
    """The :class:`dlscore.validation.Cohort` of this study and the set slugs (figure names)."""
    from dlscore.clinical import design_matrix
    from dlscore.validation import NOT_COMPUTABLE, Cohort
    cl = config.get("clinical", {})
    man, labels = _marker_frame(config, validated, score_files, cutoffs)
    covs = {k: v for k, v in (cl.get("covariates") or {}).items() if k in man}
    X, terms = design_matrix(man, covs)
    planned = evaluation_sets(man, config["survival"]["splits"])
    if not planned:
        raise ValueError("no evaluation set for the clinical analysis: check survival.splits")
    sets = [(es.name, g) for es, g in planned]
    dev_cohort = cl.get("development_cohort")
    dev_name = next((n for n, g in sets if dev_cohort is not None and (g["cohort"] == dev_cohort).all()), sets[0][0])
    rules = pd.read_csv(cutoffs).set_index("model")["rule"]
    no_cut = {m: r for m, r in rules.items() if str(r).startswith(NOT_COMPUTABLE)}
    co = Cohort(man, labels, covs, X, terms, sets, dev_name, no_cut, float(config["stats"]["alpha"]))
    return co, {es.name: es.slug for es, _ in planned}


def clinical_validation(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs: str,
                        outs: Mapping[str, str], forest_figs: Mapping[tuple[str, str, str], str],
                        four_figs: Mapping[tuple[str, str, str, str], str] | None = None,
                        dcb_roc: str | None = None) -> None:
    """Cox (univariable, multivariable with Schoenfeld check), DCB (rates, AUC, logistic),
    C-index of marker + clinical vs clinical-only (fitted on the development cohort),
    bootstrap CI of HR differences and subgroup analyses, per set and endpoint (the analyses
    are those of :mod:`dlscore.validation`).

    ``outs`` keys: :data:`CLINICAL_TABLES`. The nomogram (points table) and the survival
    calibration at ``clinical.calibration_months`` are for the marker + clinical Cox model
    fitted on the development cohort. ``four_figs``: (a, b, set slug, endpoint) -> the four-group
    KM figure of each ``clinical.four_groups`` pair; ``dcb_roc``: the ROC of every marker's
    continuous score for DCB per set."""
    from dlscore import validation as v
    from dlscore.study import endpoints, marker_pairs
    cl = config.get("clinical", {})
    seed, n_boot = int(config["seed"]), int(config["stats"]["n_boot"])
    co, slugs = _cohort(config, validated, score_files, cutoffs)
    p_enter = float(cl.get("multivariable", {}).get("p_enter", 0.05))
    forced = [c for c in cl.get("multivariable", {}).get("forced", []) if c in co.covs]
    dcb = cl.get("dcb")
    dcb = dcb if bool(dcb) and dcb in co.man and co.man[dcb].notna().any() else None
    T: dict[str, list] = {k: [] for k in CLINICAL_TABLES}
    T["marker_coverage"] = v.marker_coverage_rows(co)
    horizon = float(cl.get("calibration_months", 12))
    boots = (min(n_boot, int(cl.get("calibration_n_boot", 1000))), min(n_boot, int(cl.get("cindex_n_boot", 2000))))
    for ep, spec in endpoints(config).items():
        rows, uni_dev = v.cox_univariable(co, spec["time"], spec["event"], ep)
        T["cox_univariable"] += rows
        selected = v.select_covariates(list(co.covs), uni_dev, p_enter, forced)
        rule = f"covariates with univariable p < {p_enter:g} in {co.dev_name}" + (f", plus forced {forced}" if forced else "")
        for m in co.markers:
            for key, rows in v.marker_models(co, m, ep, spec, selected, rule, horizon, boots, seed).items():
                T[key] += rows
            T["cox_multivariable"] += v.continuous_marker_rows(co, m, ep, spec, selected, rule)
        for a, b in marker_pairs(config, "hr_difference"):
            if a in co.labels and b in co.labels:
                T["hr_difference"] += v.hr_difference_rows(co, a, b, ep, spec["time"], spec["event"], n_boot, seed)
        for m in co.markers:
            for set_name, g in co.sets:
                rows, sub, why = v.subgroup_rows(co, m, g, set_name, ep, spec, cl.get("subgroups", []), dcb)
                T["subgroups"] += rows
                _forest(config, forest_figs.get((m, slugs[set_name], ep)), sub, why, set_name, spec, co.labels[m], m)
    for a, b in marker_pairs(config, "four_groups"):
        for ep, spec in endpoints(config).items():
            for set_name, g in co.sets:
                fig = (four_figs or {}).get((a, b, slugs[set_name], ep))
                rows, pairs = _four_groups(config, co, a, b, g, set_name, ep, spec, fig)
                T["four_groups"] += rows
                T["four_groups_logrank"] += pairs
    if dcb:
        uni_rows, uni_dev = v.dcb_univariable(co, dcb)
        _dcb_tables(co, dcb, v.select_covariates(list(co.covs), uni_dev, p_enter, forced),
                    marker_pairs(config, "auc_comparisons"), T, uni_rows)
    if dcb_roc:
        _dcb_roc(config, co, dcb, T["auc_comparisons"], dcb_roc)
    for key, rows in T.items():
        df = pd.DataFrame(rows) if rows else pd.DataFrame({"note": [f"nothing to report ({key}): see config clinical"]})
        write_table(df, outs[key], config)


def _forest(config, fig: str | None, sub, why: str, set_name: str, spec, label: str, marker: str) -> None:
    """The forest plot of one marker's subgroup table (a placeholder saying why when none)."""
    from dlscore.plots import placeholder_figure
    from dlscore.plots.forest import plot_forest
    from dlscore.study import display_name, group_labels
    if fig is None:
        return
    shown = display_name(config, marker)
    label = label if shown == marker else f"{shown} high"  # a configured display name, not the key
    if sub is None:
        placeholder_figure(fig, f"{set_name}: {why}")
        return
    high, low = group_labels(config, marker)
    tests = int(sub.loc[sub["interaction_p"].notna(), "subgroup"].nunique())
    plot_forest(sub, fig, title=f"{set_name}: {spec['label']} by {label}\n{tests} subgroup interaction tests, "
                "not adjusted for multiplicity", high_label=high, endpoint=spec["label"],
                low_label=low)


def _dcb_roc(config, co, dcb: str | None, comparisons: list[dict], path: str) -> None:
    """ROC of each marker's continuous score for durable clinical benefit, one panel per set with
    DCB (the PET/CT paper's figure 4: DLS and IHC PD-L1), the paired DeLong p of each configured
    ``clinical.auc_comparisons`` pair in the legend; a placeholder saying why when there is none."""
    from dlscore.plots import PALETTE, placeholder_figure
    from dlscore.plots.roc import plot_roc_panels
    from dlscore.typography import p_text
    from dlscore.study import display_name, scores_mode
    if dcb is None:
        placeholder_figure(path, f"no DCB: clinical.dcb names no recorded column ({config['clinical'].get('dcb')})")
        return
    refs = config["clinical"].get("reference_markers") or {}
    # a model's continuous DLS, not its high group; markers of a scores-only study by their label
    shown = {m: co.labels[m] if m in refs or scores_mode(config) else display_name(config, m) for m in co.markers}
    by_label = {co.labels[m]: shown[m] for m in co.markers}
    p_of = {(c["set"], c["score_b"]): (by_label.get(c["score_a"], c["score_a"]), c["p"])
            for c in comparisons if pd.notna(c.get("p"))}
    panels = []
    for set_name, g in co.sets:
        curves = []
        for m in co.markers:
            v = g.dropna(subset=[dcb, f"value:{m}"])
            if len(v) and v[dcb].nunique() == 2:
                a, p = p_of.get((set_name, co.labels[m]), (None, None))
                name = shown[m] + (f" ({p_text(p)} vs {a})" if a else "")
                colour = PALETTE[co.markers.index(m) % len(PALETTE)]  # one colour per marker in every panel
                curves.append((name, v[dcb].astype(int).to_numpy(), v[f"value:{m}"].to_numpy(), colour))
        if curves:
            panels.append((f"{set_name}: durable clinical benefit", curves))
    if not panels:
        placeholder_figure(path, "no set with both DCB classes and a recorded score")
        return
    plot_roc_panels(panels, path, n_boot=0, columns=2)


def _dcb_tables(co, dcb: str, selected: list[str], comparisons, T: dict[str, list], univariable: list[dict]) -> None:
    """The DCB tables (rates and AUC, logistic models, AUC comparisons) appended to ``T``."""
    from dlscore import validation as v
    T["dcb_logistic"] += univariable
    for set_name, g in co.sets:
        g = g[g[dcb].notna()]
        for m in co.markers:
            row, logit = v.dcb_marker_rows(co, m, g, set_name, dcb, selected)
            T["dcb"].append(row)
            T["dcb_logistic"] += logit
        T["auc_comparisons"] += [v.auc_comparison_row(co, a, b, g, set_name, dcb) for a, b in comparisons
                                 if a in co.labels and b in co.labels]
    for m in co.markers:
        T["dcb_validation"] += v.dcb_frozen_rows(co, m, dcb, selected)


def _levels(config, co, name: str, g: pd.DataFrame) -> tuple[pd.Series, list[str]] | str:
    """Level name of every patient of ``g`` for one side of a ``clinical.four_groups`` pair, and
    the levels in print order: a model or marker (high / low at its cutoff; a reference marker
    by its ``short`` name with + / -), or a categorical manifest column (e.g. histology). A
    string says why it cannot be used."""
    from dlscore.study import group_labels
    if name in co.labels:
        ref = (config["clinical"].get("reference_markers") or {}).get(name)
        hi, lo = (f"{ref.get('short', name)}+", f"{ref.get('short', name)}\u2212") if ref else group_labels(config, name)
        return g[f"high:{name}"].map({1.0: hi, 0.0: lo}), [hi, lo]
    if name in g:
        col = g[name].astype(str).where(g[name].notna())
        return col, sorted(col.dropna().unique())
    return f"'{name}' is neither a model, a marker nor a manifest column"


def _four_groups(config, co, a: str, b: str, g: pd.DataFrame, set_name: str, ep: str, spec, fig: str | None):
    """Rows of the four-group tables (per group: n, events, median; per pair: log-rank) of
    ``a`` x ``b`` (:func:`_levels`) in one set and endpoint, and its KM figure (a placeholder
    saying why when it cannot be drawn)."""
    from dlscore.plots import placeholder_figure
    from dlscore.typography import p_value
    from dlscore.plots.km import plot_km_groups
    from dlscore.survival import cross_groups, median_with_ci, pairwise_logrank
    key = {"marker_a": a, "marker_b": b, "set": set_name, "endpoint": ep}
    g = g.dropna(subset=[spec["time"], spec["event"]])
    sides = [_levels(config, co, m, g) for m in (a, b)]
    why = next((x for x in sides if isinstance(x, str)), None)
    if why is None:
        labels = cross_groups(sides[0][0].to_numpy(), sides[1][0].to_numpy())
        order = [f"{x}, {y}" for x in sides[0][1] for y in sides[1][1] if f"{x}, {y}" in set(labels)]
        g, labels = g[labels != ""], labels[labels != ""]
        why = "fewer than two groups" if len(order) < 2 else "no events" if not g[spec["event"]].any() else None
    if why:
        if fig:
            placeholder_figure(fig, f"{set_name}: groups not computable: {why}")
        return [{**key, "note": f"not computable: {why}"}], []
    t, e = g[spec["time"]].to_numpy(float), g[spec["event"]].to_numpy(int)
    rows = []
    for name in order:
        sel = labels == name
        med, lo, hi = median_with_ci(t[sel], e[sel], float(config["stats"]["alpha"]))
        rows.append({**key, "group": name, "n": int(sel.sum()), "events": int(e[sel].sum()), "median": med,
                     "median_ci_low": lo, "median_ci_high": hi, "unit": spec["unit"]})
    pairs = pairwise_logrank(t, e, labels)
    if fig:
        txt = "Pairwise log-rank,\nHolm-adjusted p:\n" + "\n".join(
            f"{r.group_a} vs\n  {r.group_b}: " + (p_value(r.p_holm) if np.isfinite(r.p_holm) else "n/a")
            for r in pairs.itertuples())
        plot_km_groups(t, e, {n: labels == n for n in order}, fig, spec["label"], spec["unit"],
                       float(config["survival"]["at_risk_step"]), f"{set_name}: {spec['label']}",
                       config["survival"].get("time_origin", "start of immunotherapy"), txt)
    return rows, [{**key, **r, "method": "log-rank per pair, Holm-adjusted over the pairs"}
                  for r in pairs.to_dict("records")]
