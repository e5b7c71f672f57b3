import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log
from dlscore.study import model_names

models = model_names(snakemake.config)
with job_log(snakemake.log[0]):
    stages.discrimination(snakemake.config, snakemake.input.validated, dict(zip(models, snakemake.input.scores)),
                          snakemake.input.radiomics, snakemake.output.table, snakemake.output.cutoffs,
                          snakemake.output.comparisons, dict(zip(models, snakemake.output.roc)))
