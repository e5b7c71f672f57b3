import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import stats
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

models = snakemake.params.models
with job_log(snakemake.log[0]):
    stats.association(from_snakemake(snakemake, "association"), snakemake.input.validated, dict(zip(models, snakemake.input.scores)),
                       snakemake.output.table1, snakemake.output.table1_label,
                       snakemake.output.correlations, snakemake.output.groups,
                       snakemake.output.cohort_means, snakemake.input.qc or None, snakemake.output.regression)
    stats.table_two(from_snakemake(snakemake, "association"), snakemake.input.validated,
                    dict(zip(models, snakemake.input.scores)), snakemake.input.cutoffs, snakemake.output.table2)
