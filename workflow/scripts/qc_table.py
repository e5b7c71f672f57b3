import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from pathlib import Path

from dlscore import stages
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    stages.qc_table(snakemake.config, [str(Path(d) / "qc.json") for d in snakemake.input.qc],
                    snakemake.input.validated, snakemake.output[0])
