import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import report
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    report.summary(from_snakemake(snakemake, "summary"), dict(snakemake.input.items()), snakemake.output[0])
