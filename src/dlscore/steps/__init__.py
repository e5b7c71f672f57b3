"""The workflow's steps: one module per rule file of ``workflow/rules/`` (``cohort.smk`` ->
:mod:`dlscore.steps.cohort`, ``survival.smk`` -> :mod:`dlscore.steps.survival`, ...).

A step reads its input files, calls the pure functions of the library (statistics in
:mod:`dlscore.stats`, :mod:`dlscore.survival`, :mod:`dlscore.clinical`; imaging in
:mod:`dlscore.preprocess`, :mod:`dlscore.slices`; models in :mod:`dlscore.models`,
:mod:`dlscore.train`), and writes its outputs. Each takes the step's settings (a
:class:`dlscore.settings.Settings`, only the keys the rule declares), never the whole config.
"""
