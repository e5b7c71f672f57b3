import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import report
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    report.provenance(from_snakemake(snakemake, "provenance"), snakemake.input.validated, snakemake.output.table,
                      snakemake.output.checksums, snakemake.threads)
