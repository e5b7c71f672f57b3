# A registered cohort (config `<key>.enabled: true`; see dlscore.cohorts): its manifest, the
# mapping table of cohorts built from source tables, and the images of a generating cohort
# (the phantom). Studies that bring a manifest skip this rule.
if COHORT is not None:

    rule cohort:
        input:
            COHORT.input_files(config[COHORT.key]),
        output:
            manifest=MANIFEST,
            tables=[in_report(f"{R}/tables/{t}.csv", t) for t in COHORT.tables],
            files=(
                [
                    directory(f) if k == "dicom" else f
                    for p in PLAN
                    for k, f in p.files.items()
                ]
                if COHORT.generates
                else []
            ),
        log:
            f"{R}/logs/cohort.log",
        benchmark:
            f"{R}/benchmarks/cohort.tsv"
        conda:
            f"{ENVS}/{COHORT.env}.yaml"
        threads: workflow.cores if COHORT.generates else int(config[COHORT.key].get("workers") or 1)
        resources:
            mem_mb=2000,
            runtime=20,
        params:
            settings=step_params(config, "cohort"),
        script:
            "../scripts/cohort.py"
