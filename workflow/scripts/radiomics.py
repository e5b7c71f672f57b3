import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    stages.radiomics(snakemake.config, snakemake.input.pre, snakemake.wildcards.pid, snakemake.params.raters,
                     snakemake.output[0])
