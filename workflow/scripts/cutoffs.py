import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake
from dlscore.steps import discrimination

models = snakemake.params.models
with job_log(snakemake.log[0]):
    discrimination.cutoffs(from_snakemake(snakemake, "cutoffs"), snakemake.input.validated,
                           dict(zip(models, snakemake.input.scores)), snakemake.output[0])
