rule cutoffs:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
    output:
        in_report(f"{R}/tables/cutoffs.csv", "cutoffs"),
    log:
        f"{R}/logs/cutoffs.log",
    benchmark:
        f"{R}/benchmarks/cutoffs.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        settings=step_params(config, "cutoffs"),
        models=MODELS,
    script:
        "../scripts/cutoffs.py"


rule discrimination:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
        cutoffs=f"{R}/tables/cutoffs.csv",
        qc=f"{R}/tables/qc.csv",
    output:
        table=in_report(f"{R}/tables/discrimination.csv", "discrimination"),
        comparisons=in_report(f"{R}/tables/comparisons.csv", "comparisons"),
        roc=[in_report(f"{R}/figures/roc_{m}.png", "roc", model=m) for m in MODELS],
        subgroups=in_report(f"{R}/tables/subgroup_auc.csv", "subgroup_auc"),
        comparators=in_report(f"{R}/figures/roc_comparators.png", "roc_comparators"),
        pdfs=pdf_of(
            [f"{R}/figures/roc_{m}.png" for m in MODELS],
            f"{R}/figures/roc_comparators.png",
        ),
    log:
        f"{R}/logs/discrimination.log",
    benchmark:
        f"{R}/benchmarks/discrimination.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        settings=step_params(config, "discrimination"),
        models=MODELS,
    script:
        "../scripts/discrimination.py"


rule reproducibility:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
    output:
        in_report(f"{R}/tables/reproducibility.csv", "reproducibility"),
    log:
        f"{R}/logs/reproducibility.log",
    benchmark:
        f"{R}/benchmarks/reproducibility.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=step_params(config, "reproducibility"),
        models=MODELS,
    script:
        "../scripts/reproducibility.py"


rule calibration:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
    output:
        table=in_report(f"{R}/tables/calibration.csv", "calibration"),
        figs=[
            in_report(f"{R}/figures/calibration_{m}.png", "calibration_fig", model=m)
            for m in MODELS
        ],
        pdfs=pdf_of([f"{R}/figures/calibration_{m}.png" for m in MODELS]),
    log:
        f"{R}/logs/calibration.log",
    benchmark:
        f"{R}/benchmarks/calibration.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=step_params(config, "calibration"),
        models=MODELS,
    script:
        "../scripts/calibration.py"


rule clinical_utility:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
        cutoffs=f"{R}/tables/cutoffs.csv",
    output:
        table=in_report(f"{R}/tables/decision_curve.csv", "dca", "Net benefit table"),
        dca=[in_report(f"{R}/figures/dca_{m}.png", "dca", model=m) for m in MODELS],
        dist=[
            in_report(f"{R}/figures/dls_by_label_{m}.png", "dls_by_label", model=m)
            for m in MODELS
        ],
        pdfs=pdf_of(
            [
                f"{R}/figures/{k}_{m}.png"
                for k in ("dca", "dls_by_label")
                for m in MODELS
            ]
        ),
    log:
        f"{R}/logs/clinical_utility.log",
    benchmark:
        f"{R}/benchmarks/clinical_utility.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=step_params(config, "clinical_utility"),
        models=MODELS,
    script:
        "../scripts/clinical_utility.py"
