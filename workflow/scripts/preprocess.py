import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    stages.imaging(snakemake.config, snakemake.input.manifest, snakemake.wildcards.pid,
                   snakemake.output.pre, snakemake.output.slices)
