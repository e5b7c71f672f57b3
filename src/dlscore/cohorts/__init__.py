"""Cohort builders behind one interface: where a study's patients come from.

A study either brings its own manifest (config ``manifest:``, a CSV/XLSX; see
:mod:`dlscore.manifest`) or switches on one registered cohort with ``<key>.enabled: true``.
Each :class:`Cohort` is one module of this package and one entry of :data:`REGISTRY`; the
workflow has one rule for all of them (``cohort`` in ``workflow/rules/cohort.smk``) and the
generic modules never import a cohort module.

Adding a cohort (say ``mycohort``): write ``dlscore/cohorts/mycohort.py`` with a function
``build(section) -> (manifest, tables)`` (the manifest columns of :mod:`dlscore.manifest`;
``tables`` the cohort's own tables, e.g. how every source column was mapped: one table, a
dict name -> table, or ``None``), add
``"mycohort": Cohort(...)`` below, add ``mycohort`` to the config schema, and write
``config/mycohort.yaml`` with ``mycohort: {enabled: true, ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd


@dataclass(frozen=True)
class Cohort:
    """One registered cohort.

    key: its config section (``<key>.enabled`` switches it on);
    module: the module under ``dlscore.cohorts`` holding ``build`` (imported on use);
    tables: names of the tables it writes (``tables/<name>.csv``: a mapping of the source
    columns, the DICOM series index and pairing report ...);
    inputs: config keys of its section that are files the build reads (rule inputs);
    env: the conda environment of its rule (``envs/<env>.yaml``);
    generates: True when it writes the images too (planned from the config, not a manifest);
    takes_results: its ``build`` also takes the results folder (to refuse private files in it).
    """

    key: str
    module: str
    tables: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    env: str = "stats"
    generates: bool = False
    takes_results: bool = False
    description: str = field(default="", compare=False)

    def builder(self) -> Callable[..., tuple[pd.DataFrame, Any]]:
        return import_module(f"dlscore.cohorts.{self.module}").build

    def run(self, config: Mapping[str, Any], outdir: str | Path | None = None,
            workers: int = 1) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        """(manifest, {table name: table}) of this cohort for ``config``; a generating cohort
        writes its images under ``outdir`` with ``workers`` processes."""
        fn, section = self.builder(), config[self.key]
        if self.generates:
            manifest, tables = fn(section, outdir, workers)
        elif self.takes_results:
            manifest, tables = fn(section, config["results"])
        else:
            manifest, tables = fn(section)
        if tables is None:
            tables = {}
        elif isinstance(tables, pd.DataFrame):
            tables = {self.tables[0]: tables}
        if sorted(tables) != sorted(self.tables):
            raise RuntimeError(f"cohort {self.key} built tables {sorted(tables)}, declared {sorted(self.tables)}")
        return manifest, tables

    def planner(self) -> Callable[..., list]:
        """``plan(section, root, modalities)`` of a generating cohort: (patient, files) pairs."""
        return import_module(f"dlscore.cohorts.{self.module}").plan

    def input_files(self, section: Mapping[str, Any]) -> list[str]:
        """Files the cohort rule reads: the ``inputs`` keys' files, and those the module's
        ``extra_inputs(section)`` names (a header cache that changes when the export does)."""
        extra = getattr(import_module(f"dlscore.cohorts.{self.module}"), "extra_inputs", None)
        return [str(section[k]) for k in self.inputs if section.get(k)] + (extra(section) if extra else [])


REGISTRY: dict[str, Cohort] = {
    "phantom": Cohort("phantom", "phantom", env="imaging", generates=True,
                      description="simulated PET/CT cohorts with a planted label and outcomes (the demo)"),
    "lgg": Cohort("lgg", "lgg", env="imaging", description="TCGA-LGG brain MRI (Buda et al. 2019 release)"),
    "ici": Cohort("ici", "ici", tables=("ici_mapping",),
                  description="cBioPortal immunotherapy cohorts (clinical tables, scores-only)"),
    "nsclc_rg": Cohort("nsclc_rg", "nsclc_rg", tables=("nsclc_rg_mapping",), inputs=("labels",),
                       description="NSCLC-Radiogenomics clinical table (feature-table signature study)"),
    "dicom_export": Cohort("dicom_export", "dicom_export", tables=("dicom_index", "dicom_pairing"),
                           inputs=("key_file", "clinical"), env="imaging", takes_results=True,
                           description="a hospital's DICOM export: indexed, paired, pseudonymised"),
}


def active(config: Mapping[str, Any]) -> Cohort | None:
    """The registered cohort the config switches on (None: the study brings a manifest).
    Two switched on at once is a configuration error."""
    on = [c for k, c in REGISTRY.items() if (config.get(k) or {}).get("enabled")]
    if len(on) > 1:
        raise ValueError(f"cohorts {[c.key for c in on]} are all enabled: switch on one per study")
    return on[0] if on else None


def manifest_path(config: Mapping[str, Any]) -> str:
    """The study's manifest: ``<results>/<cohort>/manifest.csv`` for a registered cohort
    (written by the ``cohort`` rule), else the user's ``manifest``."""
    c = active(config)
    return f"{config['results']}/{c.key}/manifest.csv" if c else str(config["manifest"])


def build(config: Mapping[str, Any], outdir: str | Path, workers: int = 1) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(manifest, {table name: table}) of the active cohort (:meth:`Cohort.run`)."""
    c = active(config)
    if c is None:
        raise ValueError("no registered cohort is enabled")
    return c.run(config, outdir, workers)
