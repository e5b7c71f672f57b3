# The built-in phantom cohort (config `phantom.enabled: true`): images, masks, clinical table.
if config["phantom"].get("enabled"):

    rule phantom:
        output:
            manifest=f"{R}/phantom/manifest.csv",
            files=[directory(f) if k == "dicom" else f for p in PLAN for k, f in p.files.items()],
        params:
            settings=step_params(config, "phantom"),
        log:
            f"{R}/logs/phantom.log",
        benchmark:
            f"{R}/benchmarks/phantom.tsv"
        conda:
            f"{ENVS}/imaging.yaml"
        threads: workflow.cores
        resources:
            mem_mb=2000,
            runtime=20,
        script:
            "../scripts/phantom.py"
