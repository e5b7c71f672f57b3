"""Writing result tables: CSV with a ``config_hash`` column, so every number can be traced
to the configuration (and, through ``tables/provenance.csv``, the package versions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from dlscore.config import config_hash


def write_table(df: pd.DataFrame, path: str | Path, config: Mapping[str, Any], digits: int = 6) -> None:
    out = df.copy()
    num = out.select_dtypes("number").columns
    out[num] = out[num].round(digits)
    out["config_hash"] = config_hash(config)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, lineterminator="\n")
