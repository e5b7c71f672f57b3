import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import score
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    score.score(from_snakemake(snakemake, "score"), snakemake.input.weights, snakemake.params.slice_files,
                 snakemake.output.scores, snakemake.output.features,
                 snakemake.output.attention, snakemake.threads, snakemake.input.validated)
