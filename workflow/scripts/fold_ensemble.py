import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import train
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    train.fold_ensemble(from_snakemake(snakemake, "fold_ensemble"), snakemake.wildcards.model,
                        snakemake.input.weights, snakemake.input.history, snakemake.input.card,
                        snakemake.output.weights, snakemake.output.history, snakemake.output.card)
