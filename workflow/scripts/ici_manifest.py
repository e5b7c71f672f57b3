import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    stages.make_ici_manifest(from_snakemake(snakemake, "ici_manifest"), snakemake.output.manifest, snakemake.output.mapping)
