import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    stages.explain(snakemake.config, snakemake.wildcards.model, snakemake.input.weights, snakemake.input.validated,
                   snakemake.input.scores, snakemake.input.features, snakemake.params.slice_files,
                   snakemake.output.gradcam, snakemake.output.clustermap, snakemake.threads)
