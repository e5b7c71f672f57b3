# The imaging of every patient: co-gridding (results/preprocessed/{pid}/) and the slices of
# every rater's mask (results/slices/{pid}/{rater}.npz). compute.patients_per_job patients
# share one job (PATIENT_CHUNKS: a job's start-up costs more than a patient's work); each keeps
# its own outputs and log, and a killed job's finished patients are restored, not recomputed
# (dlscore.chunks).
for CHUNK, CHUNK_PIDS in PATIENT_CHUNKS.items():

    rule:
        name:
            f"preprocess_{CHUNK}"
        input:
            images=[f for p in CHUNK_PIDS for f in PATIENT[p].files.values()],
            manifest=lambda wc: MANIFEST,  # functions: the report shows no input path
            checked=f"{R}/manifest/checked.parquet",  # runs after validation; paths come from the manifest
        output:
            pre=[directory(f"{R}/preprocessed/{p}") for p in CHUNK_PIDS],
            slices=[directory(f"{R}/slices/{p}") for p in CHUNK_PIDS],
        log:
            [f"{R}/logs/preprocess/{p}.log" for p in CHUNK_PIDS],
        benchmark:
            f"{R}/benchmarks/preprocess/{CHUNK}.tsv"
        group:
            "patients"
        conda:
            f"{ENVS}/imaging.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10 + 2 * len(CHUNK_PIDS),  # minutes: a CT of 500 slices takes about 1 min
        params:
            settings=step_params(config, "preprocess"),
            patients=CHUNK_PIDS,
        script:
            "../scripts/preprocess.py"


rule qc_table:
    input:
        qc=expand(f"{R}/preprocessed/{{pid}}", pid=PIDS),
        validated=f"{R}/manifest/validated.parquet",
    output:
        table=in_report(f"{R}/tables/qc.csv", "qc"),
        figure=in_report(f"{R}/figures/qc_overview.png", "qc_overview"),
        pdfs=pdf_of(f"{R}/figures/qc_overview.png"),
    log:
        f"{R}/logs/qc_table.log",
    benchmark:
        f"{R}/benchmarks/qc_table.tsv"
    conda:
        f"{ENVS}/imaging.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=step_params(config, "qc_table"),
    script:
        "../scripts/qc_table.py"


# QC montage of every patient (config `qc.montage`): one job, so matplotlib starts once per
# worker process rather than once per patient.
rule qc_montages:
    input:
        pre=expand(f"{R}/preprocessed/{{pid}}", pid=PIDS),
        slices=slice_dirs(PIDS),
    output:
        (
            in_report(
                directory(f"{R}/qc/montages"),
                "montage",
                "QC montage",
                patterns=["{patient}.png"],
                patient="{patient}",
            )
            if config["qc"].get("montages_in_report", True)
            else directory(f"{R}/qc/montages")
        ),
    log:
        f"{R}/logs/qc_montages.log",
    benchmark:
        f"{R}/benchmarks/qc_montages.tsv"
    conda:
        f"{ENVS}/imaging.yaml"
    threads: workflow.cores
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        settings=step_params(config, "qc_montages"),
    script:
        "../scripts/qc_montages.py"
