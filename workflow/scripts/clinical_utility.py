import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log
from dlscore.study import model_names

models = model_names(snakemake.config)
with job_log(snakemake.log[0]):
    stages.clinical_utility(snakemake.config, snakemake.input.validated, dict(zip(models, snakemake.input.scores)),
                            snakemake.input.cutoffs, snakemake.output.table, dict(zip(models, snakemake.output.dca)),
                            dict(zip(models, snakemake.output.dist)))
