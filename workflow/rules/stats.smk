rule association:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
        cutoffs=f"{R}/tables/cutoffs.csv",
        qc=lambda wc: [] if SCORES_ONLY else f"{R}/tables/qc.csv",  # SUVmax
    output:
        table1=report(f"{R}/tables/table1.csv", caption="../report/table1.rst", category="1. Patients"),
        table2=report(f"{R}/tables/table2.csv", caption="../report/table2.rst", category="1. Patients"),
        table1_label=report(f"{R}/tables/table1_by_label.csv", caption="../report/table1.rst", category="1. Patients"),
        correlations=report(f"{R}/tables/correlations.csv", caption="../report/correlations.rst",
                             category="5. Association"),
        regression=report(f"{R}/tables/dls_regression.csv", caption="../report/dls_regression.rst",
                          category="5. Association"),
        groups=report(f"{R}/tables/dls_by_group.csv", caption="../report/dls_by_group.rst",
                      category="5. Association"),
        cohort_means=report(f"{R}/tables/dls_by_cohort.csv", caption="../report/dls_by_cohort.rst",
                            category="5. Association"),
    params:
        settings=step_params(config, "association"),
        models=MODELS,
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
    script:
        "../scripts/association.py"
