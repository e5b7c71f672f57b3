import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import report
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    report.manuscript(from_snakemake(snakemake, "manuscript"), snakemake.input.validated,
                      dict(zip(snakemake.params.tables, snakemake.input.tables)), snakemake.params.produced,
                      dict(snakemake.output.items()))
