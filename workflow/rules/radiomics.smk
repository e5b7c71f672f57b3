# PyRadiomics features of every patient and rater (results/radiomics/{pid}.parquet), in
# chunks of compute.patients_per_job patients as preprocess.smk.
for CHUNK, CHUNK_PIDS in PATIENT_CHUNKS.items():

    rule:
        name:
            f"radiomics_{CHUNK}"
        input:
            pre=[f"{R}/preprocessed/{p}" for p in CHUNK_PIDS],
            params=config["radiomics"]["params"],
        output:
            [f"{R}/radiomics/{p}.parquet" for p in CHUNK_PIDS],
        log:
            [f"{R}/logs/radiomics/{p}.log" for p in CHUNK_PIDS],
        benchmark:
            f"{R}/benchmarks/radiomics/{CHUNK}.tsv"
        group:
            "patients"
        conda:
            f"{ENVS}/radiomics.yaml"
        threads: 1
        resources:
            mem_mb=3000,
            runtime=10 + 2 * len(CHUNK_PIDS),  # minutes
        params:
            settings=step_params(config, "radiomics"),
            patients=CHUNK_PIDS,
            raters=[PATIENT[p].raters for p in CHUNK_PIDS],
        script:
            "../scripts/radiomics.py"


rule radiomics_table:
    input:
        expand(f"{R}/radiomics/{{pid}}.parquet", pid=PIDS),
    output:
        table=f"{R}/radiomics/features.parquet",
        csv=(
            [in_report(f"{R}/tables/radiomics_features.csv", "radiomics_features")]
            if config.get("stop_after") == "features"
            else []
        ),
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
    params:
        settings=step_params(config, "radiomics_table"),
    script:
        "../scripts/gather.py"
