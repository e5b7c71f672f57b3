import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    stages.provenance(snakemake.config, snakemake.input.validated, snakemake.output.table,
                      snakemake.output.checksums, snakemake.threads)
