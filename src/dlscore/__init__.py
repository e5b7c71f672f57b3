"""dlscore: library behind the imaging-biomarker study workflow.

All study logic lives here as pure, typed functions; the Snakemake rules in
``workflow/`` only move files in and out of these functions.
"""

__version__ = "0.1.0"
