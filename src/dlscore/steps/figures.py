"""The figure steps (workflow/rules/figures.smk)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from dlscore.evaluation import derivation_split


def hyperimage_figure(config: Mapping[str, Any], validated: str, slice_files: Mapping[str, str], out: str,
                      per_class: int = 3) -> None:
    from dlscore.plots import channel_label, new_figure, save
    from dlscore.slices import SliceSet
    man = pd.read_parquet(validated)
    tr = man[man["split"] == derivation_split(man)].sort_values("patient_id")
    pick = pd.concat([tr[tr["label"] == c].head(per_class) for c in (1, 0)])
    if pick.empty:  # no labelled patient (a feature-extraction study): the first patients
        pick = man.sort_values("patient_id").head(2 * per_class)
    title = "training patients" if len(tr) and set(pick["patient_id"]) <= set(tr["patient_id"]) else "patients"
    chans = config["slices"]["channels"]
    fig, _ = new_figure(1.1 * len(chans), 1.15 * len(pick) + 0.5)
    fig.clf()
    fig.set_layout_engine("constrained")  # the title over the column titles
    axes = fig.subplots(len(pick), len(chans), squeeze=False)
    for i, (_, row) in enumerate(pick.iterrows()):
        ss = SliceSet.load(slice_files[row["patient_id"]])
        k = int(np.argmax(ss.tumour_side_mm))
        for j, c in enumerate(chans):
            ax = axes[i, j]
            ax.imshow(ss.images[k, j], cmap="gray" if c != "pet" else "inferno", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(channel_label(c), fontsize=8)
            if j == 0:
                label = "no label" if pd.isna(row["label"]) else ("positive" if int(row["label"]) else "negative")
                # horizontal: a long patient id written vertically runs past its row
                ax.set_ylabel(f"{row['patient_id']}\n{label}", fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(f"Hyper-images of {title}\nlargest kept slice; tumour square + "
                 f"{config['slices']['margin_mm']:g} mm margin\non every side, resampled to "
                 f"{config['slices']['size']} × {config['slices']['size']} px", fontsize=7.5)
    save(fig, out)
