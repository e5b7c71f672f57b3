import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import radiomics
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    radiomics.gather(list(snakemake.input), snakemake.output[0])
