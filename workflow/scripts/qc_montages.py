import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import preprocess
from dlscore.runlog import job_log
from dlscore.settings import from_snakemake

with job_log(snakemake.log[0]):
    pids = [d.rstrip("/").split("/")[-1] for d in snakemake.input.pre]
    preprocess.qc_montages(from_snakemake(snakemake, "qc_montages"), pids, snakemake.input.pre, snakemake.input.slices, snakemake.output[0],
                       snakemake.threads)
