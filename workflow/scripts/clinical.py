import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log
from dlscore.study import model_names

with job_log(snakemake.log[0]):
    stages.clinical_validation(snakemake.config, snakemake.input.validated,
                               dict(zip(model_names(snakemake.config), snakemake.input.scores)),
                               snakemake.input.cutoffs, {k: getattr(snakemake.output, k) for k in stages.CLINICAL_TABLES},
                               dict(zip(snakemake.params.forest_keys, snakemake.output.forest)))
