import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import signature
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    signature.signature(from_snakemake(snakemake, "signature"), snakemake.input.validated, snakemake.input.features,
                     dict(zip(signature.SIGNATURE_TABLES, snakemake.output.tables)), snakemake.output.scores,
                     snakemake.output.cutoff, snakemake.output.roc, snakemake.output.heatmap,
                     snakemake.input.get("dls"), snakemake.input.get("deep"))
