# One imaging job per patient: co-gridding (results/preprocessed/{pid}/) and the slices of
# every rater's mask (results/slices/{pid}/{rater}.npz). Slicing is cheap; a job of its own
# per rater would double the per-job start-up cost that dominates on a laptop.
rule preprocess:
    input:
        unpack(lambda wc: PATIENT[wc.pid].files),
        manifest=lambda wc: MANIFEST,  # functions: the report shows no input path
        checked=f"{R}/manifest/checked.parquet",  # runs after validation; paths come from the manifest
    output:
        pre=directory(f"{R}/preprocessed/{{pid}}"),
        slices=directory(f"{R}/slices/{{pid}}"),
    params:
        settings=step_params(config, "preprocess"),
    log:
        f"{R}/logs/preprocess/{{pid}}.log",
    benchmark:
        f"{R}/benchmarks/preprocess/{{pid}}.tsv"
    conda:
        f"{ENVS}/imaging.yaml"
    group:
        "per_patient"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/preprocess.py"


rule qc_table:
    input:
        qc=expand(f"{R}/preprocessed/{{pid}}", pid=PIDS),
        validated=f"{R}/manifest/validated.parquet",
    output:
        report(f"{R}/tables/qc.csv", caption="../report/qc.rst", category="1. Data and QC"),
    params:
        settings=step_params(config, "qc_table"),
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
    script:
        "../scripts/qc_table.py"


# QC montage of every patient (config `qc.montage`): one job, so matplotlib starts once per
# worker process rather than once per patient.
rule qc_montages:
    input:
        pre=expand(f"{R}/preprocessed/{{pid}}", pid=PIDS),
        slices=slice_dirs(PIDS),
    output:
        directory(f"{R}/qc/montages"),
    params:
        settings=step_params(config, "qc_montages"),
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
    script:
        "../scripts/qc_montages.py"
