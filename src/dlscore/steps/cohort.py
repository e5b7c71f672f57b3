"""The cohort step (workflow/rules/cohort.smk): build the manifest of the registered cohort
the config switches on (:mod:`dlscore.cohorts`), and its mapping table."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from dlscore.tables import write_table


def build(config: Mapping[str, Any], manifest_out: str, mapping_out: str | None = None, workers: int = 1) -> None:
    """Write the active cohort's manifest (CSV, paths relative to its folder) and, when the
    cohort has one, its mapping table; a generating cohort writes its images beside it."""
    from dlscore.cohorts import build as build_cohort
    out = Path(manifest_out).parent
    out.mkdir(parents=True, exist_ok=True)
    manifest, mapping = build_cohort(config, out, workers)
    manifest.to_csv(manifest_out, index=False, lineterminator="\n")
    if mapping_out:
        write_table(mapping, mapping_out, config)
