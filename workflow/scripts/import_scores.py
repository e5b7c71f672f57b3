import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log
from dlscore.study import marker_names

with job_log(snakemake.log[0]):
    stages.import_scores(snakemake.config, snakemake.input.validated,
                         dict(zip(marker_names(snakemake.config), snakemake.output.scores)), snakemake.output.cutoffs,
                         snakemake.input.extra_cutoffs)
