"""Learning curves of a trained model: loss and validation AUC per epoch, best epoch marked."""

from __future__ import annotations

import pandas as pd

from dlscore.plots import PALETTE, new_figure, save


def plot_learning_curves(history: pd.DataFrame, path, title: str = "") -> None:
    """``history``: the model's ``history.csv`` (epoch, train_loss, val_loss, val_patient_auc,
    best; ``member`` for ensembles, ``fold`` for cross-validated models). Left: training
    (solid) and validation (dashed) loss; right: validation patient-level AUC; one colour per
    member or fold; the last epoch marked ``best`` (the weights kept) as a dot. A history
    without validation (``split.validation_fraction`` 0: val columns all NaN) draws the
    training loss, its last epoch dotted, and says in the right panel why there is no AUC."""
    runs = [c for c in ("fold", "member") if c in history]
    watched = bool(history["val_loss"].notna().any())
    groups = list(history.groupby(runs, sort=True)) if runs else [((), history)]
    fig, _ = new_figure(6.6, 2.6)
    fig.clf()
    loss_ax, auc_ax = fig.subplots(1, 2)
    for i, (key, h) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        name = ", ".join(f"{c} {k}" for c, k in zip(runs, key))
        prefix = f"{name}: " if name else ""
        col = PALETTE[i % len(PALETTE)]
        h = h.sort_values("epoch")
        loss_ax.plot(h["epoch"], h["train_loss"], color=col, lw=1.3, label=f"{prefix}training")
        best = h[h["best"].astype(str) == "True"].tail(1)
        if not watched:
            loss_ax.plot(best["epoch"], best["train_loss"], ls="none", marker="o", ms=4, color=col)
            continue
        loss_ax.plot(h["epoch"], h["val_loss"], color=col, lw=1.3, ls="--", label=f"{prefix}validation")
        auc_ax.plot(h["epoch"], h["val_patient_auc"], color=col, lw=1.3, label=name or "validation")
        for ax, c in ((loss_ax, "val_loss"), (auc_ax, "val_patient_auc")):
            ax.plot(best["epoch"], best[c], ls="none", marker="o", ms=4, color=col)
    from matplotlib.ticker import MaxNLocator
    for ax in (loss_ax, auc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_ax.set_xlabel("Epoch")
    loss_ax.set_ylabel("Loss (binary cross-entropy)")
    if watched:
        loss_ax.legend(frameon=False, fontsize=7, loc="upper right")
        auc_ax.set_xlabel("Epoch")
        auc_ax.set_ylabel("Validation AUC (patient level)")
        auc_ax.set_ylim(0, 1.02)
        auc_ax.axhline(0.5, color="0.6", lw=0.8, ls=":")
    else:  # nothing to draw on the right: it holds the legend and says why
        handles, labels = loss_ax.get_legend_handles_labels()
        auc_ax.axis("off")
        auc_ax.legend(handles, labels, frameon=False, fontsize=7, loc="center", ncol=1 if len(labels) <= 8 else 2,
                      title="No validation patients (split.validation_fraction 0):\nevery epoch trained, the last "
                            "one kept", title_fontsize=7)
    kept = "lowest validation loss" if watched else "the last epoch: no early stopping"
    fig.suptitle(f"{title}\nDot: the epoch whose weights were kept ({kept})", fontsize=8)
    fig.set_layout_engine("constrained")
    save(fig, path, "double")
