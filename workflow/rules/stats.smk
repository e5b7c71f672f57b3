rule association:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
        cutoffs=f"{R}/tables/cutoffs.csv",
        qc=lambda wc: [] if SCORES_ONLY else f"{R}/tables/qc.csv",  # SUVmax
    output:
        table1=in_report(f"{R}/tables/table1.csv", "table1"),
        table2=in_report(f"{R}/tables/table2.csv", "table2"),
        table1_label=in_report(
            f"{R}/tables/table1_by_label.csv", "table1", "Table 1 by label"
        ),
        correlations=in_report(f"{R}/tables/correlations.csv", "correlations"),
        regression=in_report(f"{R}/tables/dls_regression.csv", "dls_regression"),
        groups=in_report(f"{R}/tables/dls_by_group.csv", "dls_by_group"),
        cohort_means=in_report(f"{R}/tables/dls_by_cohort.csv", "dls_by_cohort"),
    log:
        f"{R}/logs/association.log",
    benchmark:
        f"{R}/benchmarks/association.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=step_params(config, "association"),
        models=MODELS,
    script:
        "../scripts/association.py"
