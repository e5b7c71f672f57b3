import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import train
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    train.train(from_snakemake(snakemake, "train"), snakemake.wildcards.model, snakemake.input.validated, snakemake.params.slice_files,
                 snakemake.output.weights, snakemake.output.history, snakemake.output.card, snakemake.threads,
                 fold=int(snakemake.wildcards.fold) if "fold" in snakemake.wildcards.keys() else None)
