import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    stages.summary(snakemake.config, snakemake.input.splits, snakemake.input.discrimination,
                   snakemake.input.reproducibility, snakemake.input.survival, snakemake.output[0])
