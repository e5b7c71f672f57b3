"""The cohort step (workflow/rules/cohort.smk): build the manifest of the registered cohort
the config switches on (:mod:`dlscore.cohorts`), and its mapping table."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from dlscore.tables import write_table


def build(config: Mapping[str, Any], manifest_out: str, table_outs: Mapping[str, str] | None = None,
          workers: int = 1) -> None:
    """Write the active cohort's manifest (CSV, paths relative to its folder) and its own
    tables (``table_outs``: name -> path); a generating cohort writes its images beside it."""
    from dlscore.cohorts import build as build_cohort
    out = Path(manifest_out).parent
    out.mkdir(parents=True, exist_ok=True)
    manifest, tables = build_cohort(config, out, workers)
    manifest.to_csv(manifest_out, index=False, lineterminator="\n")
    for name, path in (table_outs or {}).items():
        write_table(tables[name], path, config)
