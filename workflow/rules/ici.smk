# Manifest builder for cBioPortal immunotherapy cohorts (config `ici.enabled: true`).
if config.get("ici", {}).get("enabled"):

    rule ici_manifest:
        output:
            manifest=MANIFEST,
            mapping=report(f"{R}/tables/ici_mapping.csv", caption="../report/ici_mapping.rst",
                           category="1. Patients"),
        params:
            settings=step_params(config, "ici_manifest"),
        log:
            f"{R}/logs/ici_manifest.log",
        benchmark:
            f"{R}/benchmarks/ici_manifest.tsv"
        conda:
            f"{ENVS}/stats.yaml"
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        script:
            "../scripts/ici_manifest.py"
