import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    stages.make_lgg_manifest(from_snakemake(snakemake, "lgg_manifest"), snakemake.output[0])
