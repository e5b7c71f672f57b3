"""Scores-only studies (workflow/rules/import_scores.smk): markers become score tables."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from dlscore.tables import write_table


def import_scores(config: Mapping[str, Any], validated: str, score_files: Mapping[str, str], cutoffs_out: str,
                  extra_cutoffs: Sequence[str] = ()) -> None:
    """Scores-only study: each marker's manifest column becomes a score table (as a trained
    model's would be: ``dls`` = the grouping value, ``continuous`` = the score for AUC and
    C-index), and its configured cutoff the cutoff table (with ``extra_cutoffs`` tables,
    e.g. the radiomics signature's, appended)."""
    man = pd.read_parquet(validated)
    cuts = []
    for name, spec in (config["scores_only"].get("markers") or {}).items():
        cont = spec.get("continuous", spec["column"])
        pd.DataFrame({"patient_id": man["patient_id"], "rater": "r1",
                      "dls": pd.to_numeric(man[spec["column"]], errors="coerce"),
                      "continuous": pd.to_numeric(man[cont], errors="coerce") if cont in man else np.nan}
                     ).to_parquet(score_files[name], index=False)
        cuts.append({"model": name, "cutoff": float(spec["cutoff"]),
                     "rule": f"{spec.get('label', name)}: {spec['column']} >= {spec['cutoff']:g} (configured)",
                     "n_training": np.nan})
    extra = [pd.read_csv(f).drop(columns="config_hash", errors="ignore") for f in extra_cutoffs]
    write_table(pd.concat([pd.DataFrame(cuts), *extra], ignore_index=True), cutoffs_out, config)
