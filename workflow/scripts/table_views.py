import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import report
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    report.table_views(dict(snakemake.input.items()), snakemake.params.names, snakemake.output[0])
