rule validate_manifest:
    input:
        lambda wc: MANIFEST,  # a function: the report lists rule inputs, never a user's path
    output:
        f"{R}/manifest/checked.parquet",
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
    params:
        settings=step_params(config, "validate_manifest"),
    script:
        "../scripts/validate_manifest.py"


# The training/validation split (seeded): its own step, so a new seed redoes the split and
# what is seeded after it, never the checks or the imaging.
rule split:
    input:
        f"{R}/manifest/checked.parquet",
    output:
        validated=f"{R}/manifest/validated.parquet",
        splits=f"{R}/manifest/splits.csv",
    log:
        f"{R}/logs/split.log",
    benchmark:
        f"{R}/benchmarks/split.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        settings=step_params(config, "split"),
    script:
        "../scripts/split.py"
