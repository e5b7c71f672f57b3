import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from pathlib import Path

from dlscore.steps import preprocess
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    preprocess.qc_table(from_snakemake(snakemake, "qc_table"), [str(Path(d) / "qc.json") for d in snakemake.input.qc],
                    snakemake.input.validated, snakemake.output.table, snakemake.output.figure)
