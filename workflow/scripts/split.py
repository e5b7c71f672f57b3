import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import manifest
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    manifest.split(from_snakemake(snakemake, "split"), snakemake.input[0], snakemake.output.validated,
                 snakemake.output.splits)
