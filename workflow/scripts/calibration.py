import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import discrimination
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

models = snakemake.params.models
with job_log(snakemake.log[0]):
    discrimination.calibration(from_snakemake(snakemake, "calibration"), snakemake.input.validated, dict(zip(models, snakemake.input.scores)),
                       snakemake.output.table, dict(zip(models, snakemake.output.figs)))
