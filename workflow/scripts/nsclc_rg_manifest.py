import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    stages.make_nsclc_rg_manifest(snakemake.config, snakemake.output.manifest, snakemake.output.mapping)
