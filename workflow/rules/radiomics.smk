rule radiomics:
    input:
        pre=f"{R}/preprocessed/{{pid}}",
        params=config["radiomics"]["params"],
    output:
        f"{R}/radiomics/{{pid}}.parquet",
    params:
        settings=step_params(config, "radiomics"),
        raters=lambda wc: PATIENT[wc.pid].raters,
    log:
        f"{R}/logs/radiomics/{{pid}}.log",
    benchmark:
        f"{R}/benchmarks/radiomics/{{pid}}.tsv"
    conda:
        f"{ENVS}/radiomics.yaml"
    group:
        "per_patient"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    script:
        "../scripts/radiomics.py"


rule radiomics_table:
    input:
        expand(f"{R}/radiomics/{{pid}}.parquet", pid=PIDS),
    output:
        table=f"{R}/radiomics/features.parquet",
        csv=[report(f"{R}/tables/radiomics_features.csv", caption="../report/radiomics_features.rst",
                    category="2. Features")] if config.get("stop_after") == "features" else [],
    params:
        settings=step_params(config, "radiomics_table"),
    log:
        f"{R}/logs/radiomics_table.log",
    benchmark:
        f"{R}/benchmarks/radiomics_table.tsv"
    conda:
        f"{ENVS}/radiomics.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/gather.py"
