import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import manifest
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    manifest.validate(from_snakemake(snakemake, "validate_manifest"), snakemake.input[0], snakemake.output[0])
