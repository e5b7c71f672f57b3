# Imaging-biomarker study workflow: images + masks + clinical table -> deep-learning score
# (DLS) -> validation statistics -> immunotherapy outcome analysis -> report.
#
#   snakemake --cores all --configfile config/demo.yaml        (phantom PET/CT demo)
#   snakemake --cores 1 --configfile config/demo.yaml --report results/report.html
import os
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")

# The library lives in src/; make it importable by every job (venv, conda env or SLURM).
SRC = str(Path(workflow.basedir) / "src")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)


include: "workflow/rules/common.smk"
include: "workflow/rules/phantom.smk"
include: "workflow/rules/manifest.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/radiomics.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/survival.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        final_targets(),
    default_target: True
