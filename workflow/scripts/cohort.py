import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake
from dlscore.steps import cohort

with job_log(snakemake.log[0]):
    cohort.build(from_snakemake(snakemake, "cohort"), snakemake.output.manifest,
                 {Path(t).stem: t for t in snakemake.output.tables}, snakemake.threads)
