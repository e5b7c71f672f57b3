import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    stages.score(snakemake.config, snakemake.input.weights, snakemake.params.slice_files,
                 snakemake.output.scores, snakemake.output.features,
                 snakemake.output.attention, snakemake.threads)
