rule validate_manifest:
    input:
        lambda wc: MANIFEST,  # a function: the report lists rule inputs, never a user's path
    output:
        f"{R}/manifest/validated.parquet",
        f"{R}/manifest/splits.csv",
    params:
        settings=step_params(config, "validate_manifest"),
    log:
        f"{R}/logs/validate_manifest.log",
    benchmark:
        f"{R}/benchmarks/validate_manifest.tsv"
    conda:
        f"{ENVS}/imaging.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/validate_manifest.py"
