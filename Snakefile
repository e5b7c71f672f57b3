# Imaging-biomarker study workflow: images + masks + clinical table -> deep-learning score
# (DLS) -> validation statistics -> immunotherapy outcome analysis -> report.
#
#   snakemake --cores all --configfile config/demo.yaml        (phantom PET/CT demo)
#   snakemake --cores 1 --configfile config/demo.yaml --report results/report.html
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# The library lives in src/ (installed in the venv by `make`; scripts also put src/ on
# sys.path themselves so that conda envs and SLURM jobs find it without installing it).
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
from dlscore.config import check_config
from dlscore.errors import ManifestError

try:
    check_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
except ManifestError as err:  # one clear message, before any job is scheduled
    raise WorkflowError(str(err)) from None
# snakemake's own validation on top; the schema's defaults document config/config.yaml (tests/test_config.py
# checks they agree) and are not filled in: the merged config files are the one source of values
validate(config, "workflow/schemas/config.schema.yaml", set_default=False)


include: "workflow/rules/common.smk"
include: "workflow/rules/cohort.smk"
include: "workflow/rules/manifest.smk"


# Imaging studies: images -> slices/radiomics -> trained model -> DLS -> discrimination.
# Scores-only studies (scores_only.enabled): the markers' manifest columns are the scores.
if not SCORES_ONLY:

    include: "workflow/rules/preprocess.smk"
    include: "workflow/rules/radiomics.smk"
    include: "workflow/rules/train.smk"
    include: "workflow/rules/score.smk"
    include: "workflow/rules/discrimination.smk"
    include: "workflow/rules/figures.smk"

else:

    include: "workflow/rules/import_scores.smk"


include: "workflow/rules/signature.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/survival.smk"
include: "workflow/rules/report.smk"


if config.get("stop_after") == "features":
    print(
        f"stop_after: features -- {len(PIDS)} patient(s): QC, hyper-images and radiomics only; no model is trained "
        "or validated (too few patients). Set stop_after: null to run the whole study.",
        file=sys.stderr,
    )


rule all:
    default_target: True
    input:
        final_targets(),
