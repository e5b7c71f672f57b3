import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import figures
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    figures.hyperimage_figure(from_snakemake(snakemake, "hyperimage_figure"), snakemake.input.validated, snakemake.params.slice_files,
                             snakemake.output[0])
