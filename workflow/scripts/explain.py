import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import score
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    score.explain(from_snakemake(snakemake, "explain"), snakemake.wildcards.model, snakemake.input.weights, snakemake.input.validated,
                   snakemake.input.scores, snakemake.input.features, snakemake.params.slice_files,
                   snakemake.output.gradcam, snakemake.output.clustermap, snakemake.threads,
                   snakemake.output.activations, snakemake.output.clusters)
    score.training_figure(from_snakemake(snakemake, "explain"), snakemake.wildcards.model,
                          (list(snakemake.input.history) or [None])[0], snakemake.output.training)
