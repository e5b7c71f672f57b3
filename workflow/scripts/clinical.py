import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import survival
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    survival.clinical_validation(from_snakemake(snakemake, "clinical_validation"), snakemake.input.validated,
                               dict(zip(snakemake.params.models, snakemake.input.scores)),
                               snakemake.input.cutoffs, {k: getattr(snakemake.output, k) for k in survival.CLINICAL_TABLES},
                               dict(zip(snakemake.params.forest_keys, snakemake.output.forest)),
                               dict(zip(snakemake.params.four_keys, snakemake.output.four)),
                               snakemake.output.dcb_roc)
