import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")
from dlscore.steps import radiomics
from dlscore.settings import from_snakemake

radiomics.radiomics_chunk(from_snakemake(snakemake, "radiomics"), snakemake.input.pre, snakemake.params.patients,
                          snakemake.params.raters, snakemake.output, snakemake.log, snakemake.config["results"])
