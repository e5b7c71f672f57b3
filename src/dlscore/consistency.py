"""Cross-cohort consistency: a marker or covariate must mean the same thing in every cohort.

Models, cutoffs and reference levels are fixed on the development cohort and applied
unchanged to the others, so a cohort whose marker is in other units (panel TMB in mut/Mb
against an exome count cutoff) or whose covariate has other codes (ever/never against
never/former/current) would give silently wrong tables. These checks run in the
``validate_manifest`` step and return one :class:`~dlscore.errors.InputError` per problem,
naming both cohorts, the column, what differs and the fix.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from dlscore.errors import InputError

DEVELOPMENT_ROLES = ("development", "training", "validation")
#: a cohort entirely on one side of a cutoff is flagged when that would happen with less than
#: this probability if its patients were drawn from the development cohort's distribution
ONE_SIDE_P = 1e-3


def development_cohorts(df: pd.DataFrame, configured: str | None = None) -> list[str]:
    """The cohort(s) models are developed on: ``clinical.development_cohort`` when given,
    else every cohort holding development/training/validation patients."""
    if configured:
        return [configured]
    return list(dict.fromkeys(df.loc[df["role"].isin(DEVELOPMENT_ROLES), "cohort"].astype(str)))


def _levels(v: pd.Series) -> list[str]:
    from dlscore.stats.association import show_level
    return sorted({show_level(x) for x in v.dropna()})


def covariate_level_problems(df: pd.DataFrame, dev: Sequence[str],
                             covariates: Mapping[str, Mapping[str, Any]]) -> list[InputError]:
    """Categorical covariates with levels in a cohort that the development cohort lacks (a
    coding that differs between cohorts: no model fitted on development can use them)."""
    out = []
    is_dev = df["cohort"].astype(str).isin(dev)
    for name, spec in covariates.items():
        if spec.get("type") != "categorical" or name not in df or not is_dev.any():
            continue
        dev_levels = _levels(df.loc[is_dev, name])
        for coh, g in df.loc[~is_dev].groupby(df.loc[~is_dev, "cohort"].astype(str), sort=False):
            extra = [lv for lv in _levels(g[name]) if lv not in dev_levels]
            if extra and dev_levels:
                out.append(InputError(
                    f"covariate '{name}' has level(s) {extra} in cohort {coh} that cohort {'/'.join(dev)} "
                    f"(development) does not have (its levels: {dev_levels}; {coh}'s: {_levels(g[name])})",
                    f"code '{name}' with the same levels in every cohort (for cBioPortal cohorts: "
                    f"ici.cohorts.{coh}.values.{name}; else recode the manifest column)", where=name))
    return out


def _marker_columns(markers: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, float | None]]:
    """column -> (first marker using it, its cutoff when the column is the one dichotomised)."""
    out: dict[str, tuple[str, float | None]] = {}
    for name, spec in markers.items():
        if spec.get("column"):
            out.setdefault(spec["column"], (name, spec.get("cutoff")))
        if spec.get("continuous"):
            out.setdefault(spec["continuous"], (name, None))
    return out


def marker_scale_problems(df: pd.DataFrame, dev: Sequence[str], markers: Mapping[str, Mapping[str, Any]],
                          ratio: float = 10.0) -> list[InputError]:
    """A marker whose scale in a cohort disagrees with the development cohort's: every
    patient on one side of the cutoff when that would be rarer than :data:`ONE_SIDE_P` with
    the development cohort's share on that side (p_dev ** n), or a median more
    than ``ratio`` times larger or smaller (other units). Binary (0/1) columns are exempt
    from the one-side rule (a cohort may be all positive by design)."""
    out = []
    is_dev = df["cohort"].astype(str).isin(dev)
    for col, (name, cutoff) in _marker_columns(markers).items():
        if col not in df or not is_dev.any():
            continue
        x = pd.to_numeric(df[col], errors="coerce")
        xd = x[is_dev].dropna()
        if len(xd) < 2:
            continue
        binary = set(xd.unique()) <= {0.0, 1.0}
        for coh, xc in x[~is_dev].groupby(df.loc[~is_dev, "cohort"].astype(str), sort=False):
            xc = xc.dropna()
            if len(xc) < 5:
                continue
            why = None
            med_d, med_c = float(xd.median()), float(xc.median())
            above = (xc >= cutoff).all() if cutoff is not None else False
            share = float((xd >= cutoff).mean() if above else (xd < cutoff).mean()) if cutoff is not None else 1.0
            if cutoff is not None and not binary and (above or (xc < cutoff).all()) and share ** len(xc) < ONE_SIDE_P:
                side = "at or above" if above else "below"
                why = (f"all {len(xc)} patients of cohort {coh} are {side} the cutoff {cutoff:g} (chance "
                       f"{share ** len(xc):.1g} with the development cohort's distribution, where {share:.0%} are)")
            elif med_d > 0 and med_c > 0 and max(med_d / med_c, med_c / med_d) > ratio:
                why = f"its median in cohort {coh} ({med_c:.3g}) is {max(med_d / med_c, med_c / med_d):.0f}x"
                why += " that" if med_c > med_d else " below that"
                why += " of the development cohort"
            if why:
                out.append(InputError(
                    f"marker {name}: column '{col}' looks like another scale or unit in cohort {coh}: {why} "
                    f"(development {'/'.join(dev)}: median {med_d:.3g}, range {xd.min():.3g}-{xd.max():.3g}; "
                    f"{coh}: median {med_c:.3g}, range {xc.min():.3g}-{xc.max():.3g})",
                    f"convert '{col}' of cohort {coh} to the development cohort's unit, or leave it out of that "
                    "cohort; if the values are right as they are, set checks.marker_scale_ratio: null", where=col))
    return out


def marker_presence(df: pd.DataFrame, column: str) -> dict[str, bool]:
    """cohort -> whether ``column`` holds any value there (a marker recorded in one cohort
    only is "not computable: not recorded in <cohort>" in the others)."""
    if column not in df:
        return {str(c): False for c in df["cohort"].unique()}
    return {str(c): bool(g.notna().any()) for c, g in df[column].groupby(df["cohort"].astype(str), sort=False)}


def cohort_problems(df: pd.DataFrame, config: Mapping[str, Any]) -> list[InputError]:
    """Every cross-cohort problem of a validated manifest under ``config``."""
    clinical = config.get("clinical", {}) or {}
    dev = development_cohorts(df, clinical.get("development_cohort"))
    if not dev:
        return []
    markers = (config.get("scores_only", {}) or {}).get("markers") or {} if \
        (config.get("scores_only", {}) or {}).get("enabled") else {}
    from dlscore.plausibility import DEFAULT_CHECKS
    ratio = (config.get("checks") or {}).get("marker_scale_ratio", DEFAULT_CHECKS["marker_scale_ratio"])
    return (covariate_level_problems(df, dev, clinical.get("covariates") or {})
            + (marker_scale_problems(df, dev, markers, float(ratio)) if ratio is not None else []))


__all__ = ["cohort_problems", "covariate_level_problems", "development_cohorts", "marker_presence",
           "marker_scale_problems"]
