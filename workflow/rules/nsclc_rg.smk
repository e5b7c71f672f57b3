# Manifest builder for NSCLC-Radiogenomics (config `nsclc_rg.enabled: true`; tables only).
if config.get("nsclc_rg", {}).get("enabled"):

    rule nsclc_rg_manifest:
        input:
            config["nsclc_rg"]["labels"],
        output:
            manifest=MANIFEST,
            mapping=report(f"{R}/tables/nsclc_rg_mapping.csv", caption="../report/nsclc_rg_mapping.rst",
                           category="1. Patients"),
        params:
            settings=step_params(config, "nsclc_rg_manifest"),
        log:
            f"{R}/logs/nsclc_rg_manifest.log",
        benchmark:
            f"{R}/benchmarks/nsclc_rg_manifest.tsv"
        conda:
            f"{ENVS}/stats.yaml"
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        script:
            "../scripts/nsclc_rg_manifest.py"
