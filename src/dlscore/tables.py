"""Writing result tables: CSV with a ``config_hash`` column, so every number can be traced
to the configuration (and, through ``tables/provenance.csv``, the package versions); and
their views for reading (rounded, as a small HTML page that the report shows inline)."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from dlscore.config import config_hash
from dlscore.typography import p_value


def write_table(df: pd.DataFrame, path: str | Path, config: Mapping[str, Any], digits: int = 6) -> None:
    """Write ``df`` as CSV with floats to ``digits`` significant digits (so p = 3e-12 stays
    3e-12 instead of rounding to 0) and a ``config_hash`` column."""
    out = df.copy()
    for c in out.select_dtypes("floating").columns:
        out[c] = out[c].map(lambda v: float(f"{v:.{digits}g}") if pd.notna(v) else v)
    out["config_hash"] = config_hash(config)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, lineterminator="\n")


#: a p-value column: ``p``, or ``p`` as a word of the name (``logrank_p``, ``p_holm``, ``mw_p_holm``)
P_COLUMN = re.compile(r"(^|_)p($|_)")


def _for_reading(v, digits: int) -> str:
    """One cell as read: integers whole, other numbers to ``digits`` significant digits (whole
    from 1000 up), ∞ for an infinite limit (a KM median never reached), "" when missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if float(v).is_integer() or abs(v) >= 10 ** digits:
        return f"{v:.0f}".replace("-", "−")
    return f"{v:.{digits}g}".replace("-", "−")


def readable(df: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """``df`` (a result table, n rows × k columns) as strings for reading: p-value columns
    (:data:`P_COLUMN`) as journals print them, other numbers to ``digits`` significant digits,
    missing cells empty; the ``config_hash`` column left out. Same rows, same column names."""
    out = df.drop(columns=["config_hash"], errors="ignore").astype(object)
    for c in out.columns:
        fmt = p_value if P_COLUMN.search(str(c)) and pd.api.types.is_numeric_dtype(df[c]) else \
            (lambda v: _for_reading(v, digits))
        out[c] = [fmt(v) for v in out[c]]
    return out


_HTML_STYLE = ("<style>body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
               "th,td{padding:3px 8px;border-bottom:1px solid #ccc;text-align:left;vertical-align:top}"
               "th{border-bottom:2px solid #333}caption{text-align:left;font-weight:bold;padding:4px 0}"
               "p.note{color:#555}</style>")


def html_page(table: pd.DataFrame, caption: str, note: str = "") -> str:
    """``table`` (cells as printed) as a small stand-alone HTML page with ``caption`` over it and
    ``note`` under it (the report shows the page inline); the ``config_hash`` column left out."""
    body = table.drop(columns=["config_hash"], errors="ignore").to_html(index=False, escape=True, na_rep="",
                                                                        border=0)
    end = body.index(">") + 1  # after the opening <table ...> tag
    body = f"{body[:end]}<caption>{html.escape(caption)}</caption>{body[end:]}"
    if note:
        body += f"<p class='note'>{html.escape(note)}</p>"
    return f"<!doctype html><html><head><meta charset='utf-8'>{_HTML_STYLE}</head><body>{body}</body></html>\n"
