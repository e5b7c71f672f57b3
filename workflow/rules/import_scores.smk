# Scores-only study: each configured marker (a manifest column) becomes a score table.
rule import_scores:
    input:
        validated=f"{R}/manifest/validated.parquet",
        extra_cutoffs=[f"{R}/tables/signature_cutoff.csv"] if SIGNATURE else [],
    output:
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MARKERS),
        cutoffs=in_report(f"{R}/tables/cutoffs.csv", "cutoffs", "Marker cutoffs"),
    log:
        f"{R}/logs/import_scores.log",
    benchmark:
        f"{R}/benchmarks/import_scores.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        settings=step_params(config, "import_scores"),
        models=MARKERS,
    script:
        "../scripts/import_scores.py"
