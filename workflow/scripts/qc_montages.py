import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore import stages
from dlscore.runlog import job_log

with job_log(snakemake.log[0]):
    pids = [d.rstrip("/").split("/")[-1] for d in snakemake.input.pre]
    stages.qc_montages(snakemake.config, pids, snakemake.input.pre, snakemake.input.slices, snakemake.output[0],
                       snakemake.threads)
