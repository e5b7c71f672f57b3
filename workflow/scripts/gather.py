import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import radiomics
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    radiomics.gather(list(snakemake.input), snakemake.output.table, snakemake.output.csv[0] if snakemake.output.csv
                     else None, from_snakemake(snakemake, "radiomics_table"))
