import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    stages.train(snakemake.config, snakemake.wildcards.model, snakemake.input.validated, snakemake.params.slice_files,
                 snakemake.output.weights, snakemake.output.history, snakemake.output.card, snakemake.threads)
