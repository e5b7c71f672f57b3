"""Kaplan-Meier curves of two groups with 95 % CI bands (R survfit's "log" band), censor
ticks, and a number-at-risk table under the x axis whose columns sit exactly on the x ticks."""

from __future__ import annotations

from typing import Mapping

import numpy as np
from dlscore.plots import PALETTE, new_figure, save
from dlscore.survival import km_table


def at_risk_table(time, groups: Mapping[str, np.ndarray], ticks: np.ndarray) -> dict[str, list[int]]:
    """Number at risk (time >= tick) per group at each tick."""
    t = np.asarray(time, float)
    return {name: [int((t[sel] >= x).sum()) for x in ticks] for name, sel in groups.items()}


def _fmt_median(m, lo, hi) -> str:
    f = lambda v: "NR" if not np.isfinite(v) else f"{v:.1f}"  # noqa: E731
    return f"{f(m)} ({f(lo)}–{f(hi)})"


def plot_km(time, event, high, path, endpoint: str, unit: str, stats: Mapping, step: float = 6.0,
            labels: tuple[str, str] = ("High DLS", "Low DLS"), title: str = "",
            time_origin: str = "start of immunotherapy") -> dict[str, list[int]]:
    """Plot KM of ``high`` vs not; return the at-risk table that was printed."""
    h = np.asarray(high, bool)
    hr = (f"HR (high vs low) {stats['hr']:.2f} ({stats['hr_ci_low']:.2f}–{stats['hr_ci_high']:.2f})"
          if np.isfinite(stats.get("hr", np.nan)) else "HR not estimable (no events in one group)")
    from dlscore.typography import p_text
    txt = (f"Log-rank {p_text(stats['logrank_p'])}\n"
           f"{hr}\n"
           f"Median, {labels[0]}: {_fmt_median(stats['median_high'], stats['median_high_ci_low'], stats['median_high_ci_high'])} {unit}\n"
           f"Median, {labels[1]}: {_fmt_median(stats['median_low'], stats['median_low_ci_low'], stats['median_low_ci_high'])} {unit}")
    return plot_km_groups(time, event, {labels[0]: h, labels[1]: ~h}, path, endpoint, unit, step, title,
                          time_origin, txt)


def plot_km_groups(time, event, groups: Mapping[str, np.ndarray], path, endpoint: str, unit: str,
                   step: float = 6.0, title: str = "", time_origin: str = "start of immunotherapy",
                   text: str = "") -> dict[str, list[int]]:
    """KM curves (95 % log band, censor ticks) of each group (name -> (n,) bool mask), ``text``
    in the upper right, and the number at risk under the x axis at every tick; returns that table.
    time: (n,) in ``unit``; event: (n,) 0/1."""
    t = np.asarray(time, float)
    e = np.asarray(event, int)
    fig, ax = new_figure(3.35, 3.9 + 0.25 * max(len(groups) - 2, 0))
    xmax = float(np.ceil(t.max() / step) * step)
    ticks = np.arange(0, xmax + 1e-9, step)
    for i, (name, sel) in enumerate(groups.items()):
        if not sel.any():
            continue
        km = km_table(t[sel], e[sel])
        xs = np.concatenate([[0.0], km["time"]])
        col = PALETTE[i]
        ax.step(xs, np.concatenate([[1.0], km["surv"]]), where="post", color=col, lw=1.6, label=name)
        ax.fill_between(xs, np.concatenate([[1.0], km["lower"]]), np.concatenate([[1.0], km["upper"]]),
                        step="post", color=col, alpha=0.12 if len(groups) <= 2 else 0.06, linewidth=0)
        cens = km[km["n_censor"] > 0]
        ax.plot(cens["time"], cens["surv"], ls="none", marker="|", ms=6, color=col)
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(ticks)
    ax.set_xlabel(f"Time since {time_origin} ({unit})")
    ax.set_ylabel(f"{endpoint}\n(probability)" if len(endpoint) > 16 else f"{endpoint} probability")
    ax.set_title(title)
    if text and len(groups) <= 2:
        ax.text(0.98, 0.98, text, transform=ax.transAxes, ha="right", va="top", fontsize=7)
    elif text:  # many groups: the curves fill the axes, the tests go beside them
        ax.text(1.03, 1.0, text, transform=ax.transAxes, ha="left", va="top", fontsize=7)
    ax.legend(loc="lower left", frameon=False, fontsize=7)
    table = at_risk_table(t, groups, ticks)
    _at_risk_rows(ax, table, ticks)
    fig.subplots_adjust(bottom=0.3 + 0.04 * max(len(groups) - 2, 0))
    save(fig, path, "double" if text and len(groups) > 2 else "single")
    return table


def _at_risk_rows(ax, table: Mapping[str, list[int]], ticks: np.ndarray) -> None:
    """The number-at-risk rows under the axis, each count centred on its x tick."""
    ax.text(-0.07, -0.2, "No. at risk", transform=ax.transAxes, fontsize=7.5, fontweight="bold", ha="right")
    for r, (name, counts) in enumerate(table.items()):
        y = -0.28 - 0.08 * r
        ax.text(-0.07, y, name, transform=ax.transAxes, ha="right", va="center", fontsize=7.5, color=PALETTE[r])
        for x, c in zip(ticks, counts):
            ax.text(x, y, str(c), transform=ax.get_xaxis_transform(), ha="center", va="center", fontsize=7.5)
