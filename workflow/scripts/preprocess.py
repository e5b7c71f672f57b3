import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import preprocess
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    preprocess.imaging(from_snakemake(snakemake, "preprocess"), snakemake.input.manifest, snakemake.wildcards.pid,
                   snakemake.output.pre, snakemake.output.slices)
