"""Writing result tables: CSV with a ``config_hash`` column, so every number can be traced
to the configuration (and, through ``tables/provenance.csv``, the package versions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from dlscore.config import config_hash


def write_table(df: pd.DataFrame, path: str | Path, config: Mapping[str, Any], digits: int = 6) -> None:
    """Write ``df`` as CSV with floats to ``digits`` significant digits (so p = 3e-12 stays
    3e-12 instead of rounding to 0) and a ``config_hash`` column."""
    out = df.copy()
    for c in out.select_dtypes("floating").columns:
        out[c] = out[c].map(lambda v: float(f"{v:.{digits}g}") if pd.notna(v) else v)
    out["config_hash"] = config_hash(config)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, lineterminator="\n")
