"""The study-flow diagram (Figure 1 of a CONSORT/STARD-style report) from :func:`dlscore.flow.study_flow`."""

from __future__ import annotations

import textwrap

import pandas as pd

from dlscore.plots import new_figure, save

#: box style of every stage
_BOX = {"boxstyle": "round,pad=0.35", "fc": "white", "ec": "#1f4e79", "lw": 0.8}
#: y (axes units, top = 1) of the four stages
_Y = {"manifest": 0.95, "cohort": 0.72, "set": 0.49, "analysis": 0.32}
#: half the height of a two-line box (axes units): arrows run from edge to edge
_HALF = 0.055


def _box(ax, x: float, y: float, text: str, width_chars: int, fontsize: float = 7.5, va: str = "center") -> None:
    lines = [textwrap.fill(part, width_chars, subsequent_indent="  ") for part in text.split("\n")]
    ax.text(x, y, "\n".join(lines), ha="center", va=va, fontsize=fontsize, bbox=_BOX, transform=ax.transAxes)


def _arrow(ax, x0: float, y0: float, x1: float, y1: float) -> None:
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), xycoords="axes fraction",
                arrowprops={"arrowstyle": "-|>", "color": "#5d6d7e", "lw": 0.8, "shrinkA": 0, "shrinkB": 0})


def _analysis_text(rows: pd.DataFrame) -> str:
    parts = []
    for r in rows.itertuples():
        line = f"{r.analysis}: n = {r.n}"
        if r.excluded:
            line += f"\n  excluded {r.excluded}: {r.reasons}"
        parts.append(line)
    return "\n".join(parts) or "no analysis"


def plot_flow(flow: pd.DataFrame, path, title: str = "Study flow") -> None:
    """One column per evaluation set: the manifest on top, each cohort over its sets, the set, and
    a box listing every analysis of the set with its n and the patients it excluded (why)."""
    sets = flow[flow["level"] == "set"]
    ncol = max(len(sets), 1)
    fig, ax = new_figure(7.0, 5.0)  # 7 in: a double column
    ax.axis("off")
    x_of = {s: (i + 0.5) / ncol for i, s in enumerate(sets["set"])}
    top = flow[flow["level"] == "manifest"].iloc[0]
    _box(ax, 0.5, _Y["manifest"], f"Patients in the manifest\nn = {top.n}", 40, 8)
    width = max(14, int(0.85 * 7.0 * 72 / ncol / (0.6 * 7.5)))  # characters: ~0.6 em each
    for c in flow[flow["level"] == "cohort"].itertuples():
        xs = ([x_of[s] for s in ("training", "validation", "development", "unlabelled") if s in x_of]
              if c.analysis == "development" else [x_of[s] for s in x_of if s.startswith(f"{c.set} (")])
        x = sum(xs) / len(xs) if xs else 0.5
        _arrow(ax, 0.5, _Y["manifest"] - _HALF, x, _Y["cohort"] + _HALF)
        extra = f"\n{c.reasons}" if c.reasons else ""
        role = f" ({c.analysis})" if c.analysis.lower() != str(c.set).lower() else ""
        _box(ax, x, _Y["cohort"], f"{c.set}{role}\nn = {c.n}{extra}", width)
        for xi in xs:
            _arrow(ax, x, _Y["cohort"] - _HALF, xi, _Y["set"] + _HALF)
    for s in sets.itertuples():
        x = x_of[s.set]
        _box(ax, x, _Y["set"], f"{'held out: ' if s.analysis != 'development' else ''}{s.set}\nn = {s.n}", width)
        _arrow(ax, x, _Y["set"] - _HALF, x, _Y["analysis"] + 0.02)
        _box(ax, x, _Y["analysis"], "Analysed\n" + _analysis_text(
            flow[(flow["level"] == "analysis") & (flow["set"] == s.set)]), width, 7, va="top")
    ax.set_title(title)
    save(fig, path, "double")
