import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import radiomics
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    radiomics.radiomics(from_snakemake(snakemake, "radiomics"), snakemake.input.pre, snakemake.wildcards.pid, snakemake.params.raters,
                     snakemake.output[0])
