import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import import_scores
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    import_scores.import_scores(from_snakemake(snakemake, "import_scores"), snakemake.input.validated,
                         dict(zip(snakemake.params.models, snakemake.output.scores)), snakemake.output.cutoffs,
                         snakemake.input.extra_cutoffs)
