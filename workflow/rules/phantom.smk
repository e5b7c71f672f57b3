# The built-in phantom cohort (config `phantom.enabled: true`): images, masks, clinical table.
if config["phantom"].get("enabled"):

    rule phantom:
        output:
            manifest=f"{R}/phantom/manifest.csv",
            files=[f for p in PLAN for f in p.files.values()],
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
