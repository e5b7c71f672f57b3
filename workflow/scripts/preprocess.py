import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import preprocess
from dlscore.settings import from_snakemake

preprocess.imaging_chunk(from_snakemake(snakemake, "preprocess"), snakemake.input.manifest, snakemake.params.patients,
                         snakemake.output.pre, snakemake.output.slices, snakemake.log, snakemake.config["results"])
