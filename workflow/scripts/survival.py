import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import survival
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

models = snakemake.params.models

with job_log(snakemake.log[0]):
    survival.survival(from_snakemake(snakemake, "survival"), snakemake.input.validated, dict(zip(models, snakemake.input.scores)),
                    snakemake.input.cutoffs, snakemake.output.table, snakemake.output.at_risk,
                    dict(zip(snakemake.params.km_keys, snakemake.output.km)))
