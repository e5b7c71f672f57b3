rule validate_manifest:
    input:
        MANIFEST,
    output:
        f"{R}/manifest/validated.parquet",
        f"{R}/manifest/splits.csv",
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
