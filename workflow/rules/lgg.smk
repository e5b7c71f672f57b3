# TCGA-LGG manifest builder (config `lgg.enabled: true`); reads the data folder only.
if config.get("lgg", {}).get("enabled"):

    rule lgg_manifest:
        output:
            MANIFEST,
        params:
            settings=step_params(config, "lgg_manifest"),
            data_dir=config["lgg"]["data_dir"],
        log:
            f"{R}/logs/lgg_manifest.log",
        benchmark:
            f"{R}/benchmarks/lgg_manifest.tsv"
        conda:
            f"{ENVS}/imaging.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=5,
        script:
            "../scripts/lgg_manifest.py"
