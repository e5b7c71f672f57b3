"""Forest plot of subgroup hazard ratios (log scale) with interaction p-values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlscore.plots import PALETTE, new_figure, save


def plot_forest(table: pd.DataFrame, path, title: str = "", high_label: str = "high",
                endpoint: str = "PFS", low_label: str = "low") -> None:
    """``table``: rows of :func:`dlscore.clinical.subgroup_table` (subgroup, level, n, hr,
    hr_ci_low, hr_ci_high, interaction_p). Non-estimable HRs are listed with their reason."""
    rows = table.reset_index(drop=True)
    k = len(rows)
    fig, ax = new_figure(6.4, 0.9 + 0.32 * (k + 1))
    ys = np.arange(k)[::-1]
    finite = rows["hr"].notna() & np.isfinite(rows["hr"].astype(float))
    lo = rows.loc[finite, "hr_ci_low"].astype(float)
    hi = rows.loc[finite, "hr_ci_high"].astype(float)
    xmin = float(min(0.1, lo.min() / 1.3)) if finite.any() else 0.1
    xmax = float(max(10.0, hi.max() * 1.3)) if finite.any() else 10.0
    xmin, xmax = max(xmin, 0.01), min(xmax, 100.0)
    ax.axvline(1.0, color="0.4", lw=0.8, ls="--")
    last = None
    for y, (_, r) in zip(ys, rows.iterrows()):
        name = r["subgroup"] if r["subgroup"] != last else ""
        last = r["subgroup"]
        level = str(r["level"]) if isinstance(r["level"], str) and r["level"] else ""
        label = (f"{name}: {level}" if level else name) if name else level
        ax.text(-0.02, y, f"{label} (n={int(r['n'])})", transform=ax.get_yaxis_transform(), ha="right",
                va="center", fontsize=7.5)
        if np.isfinite(r.get("hr", np.nan)):
            c = PALETTE[0] if r["subgroup"] != "all patients" else "black"
            ax.plot([max(r["hr_ci_low"], xmin), min(r["hr_ci_high"], xmax)], [y, y], color=c, lw=1.3)
            ax.plot([r["hr"]], [y], marker="s" if r["subgroup"] != "all patients" else "D", color=c,
                    ms=3 + 4 * np.sqrt(r["n"] / rows["n"].max()))
            txt = f"{r['hr']:.2f} ({r['hr_ci_low']:.2f}–{r['hr_ci_high']:.2f})"
        else:
            txt = "not estimable"
        if np.isfinite(r.get("hr", np.nan)) and isinstance(r.get("flag"), str) and r["flag"]:
            txt += " †"  # few events or patients: read with care
        if name and np.isfinite(r.get("interaction_p", np.nan)):
            txt += f"   p_int = {r['interaction_p']:.2g}"
        ax.text(1.02, y, txt, transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=7.5)
    ax.set_xscale("log")
    ax.set_xlim(xmin, xmax)
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if xmin <= t <= xmax]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_ylim(-0.7, k - 0.3)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(f"{endpoint} hazard ratio, {high_label} vs {low_label} (95 % CI, log scale)")
    ax.text(1.02, k - 0.2, "HR (95 % CI)", transform=ax.get_yaxis_transform(), ha="left", va="bottom", fontsize=7.5,
            weight="bold")
    ax.text(0.02, -0.55, f"← favours {high_label}", transform=ax.get_yaxis_transform(), fontsize=7, color="0.3")
    ax.text(0.98, -0.55, f"favours {low_label} →", transform=ax.get_yaxis_transform(), fontsize=7, color="0.3", ha="right")
    ax.set_title(title, fontsize=8.5)
    flagged = finite & rows.get("flag", pd.Series("", index=rows.index)).fillna("").astype(str).ne("")
    if flagged.any():
        ax.set_xlabel(ax.get_xlabel() + "\n† fewer than 10 events or fewer than 5 patients in an arm: "
                      "an unreliable estimate", fontsize=8)
    save(fig, path, "double")
