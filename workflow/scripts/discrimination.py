import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake
from dlscore.steps import discrimination

models = snakemake.params.models
with job_log(snakemake.log[0]):
    discrimination.discrimination(from_snakemake(snakemake, "discrimination"), snakemake.input.validated,
                                  dict(zip(models, snakemake.input.scores)), snakemake.input.cutoffs,
                                  snakemake.input.qc, snakemake.output.table, snakemake.output.comparisons,
                                  dict(zip(models, snakemake.output.roc)), snakemake.output.subgroups,
                                  snakemake.output.comparators)
