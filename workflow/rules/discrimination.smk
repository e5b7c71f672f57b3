rule cutoffs:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
    output:
        report(f"{R}/tables/cutoffs.csv", caption="../report/cutoffs.rst", category="2. Discrimination"),
    params:
        settings=step_params(config, "cutoffs"),
        models=MODELS,
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
    script:
        "../scripts/cutoffs.py"


rule discrimination:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
        cutoffs=f"{R}/tables/cutoffs.csv",
        qc=f"{R}/tables/qc.csv",
    output:
        table=report(f"{R}/tables/discrimination.csv", caption="../report/discrimination.rst",
                     category="2. Discrimination"),
        comparisons=report(f"{R}/tables/comparisons.csv", caption="../report/comparisons.rst",
                           category="2. Discrimination"),
        roc=[report(f"{R}/figures/roc_{m}.png", caption="../report/roc.rst", category="2. Discrimination")
             for m in MODELS],
        subgroups=report(f"{R}/tables/subgroup_auc.csv", caption="../report/subgroup_auc.rst",
                         category="2. Discrimination"),
        comparators=report(f"{R}/figures/roc_comparators.png", caption="../report/roc_comparators.rst",
                           category="2. Discrimination"),
    params:
        settings=step_params(config, "discrimination"),
        models=MODELS,
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
    script:
        "../scripts/discrimination.py"


rule reproducibility:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
    output:
        report(f"{R}/tables/reproducibility.csv", caption="../report/reproducibility.rst",
               category="3. Reproducibility"),
    params:
        settings=step_params(config, "reproducibility"),
        models=MODELS,
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
    script:
        "../scripts/reproducibility.py"


rule calibration:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
    output:
        table=report(f"{R}/tables/calibration.csv", caption="../report/calibration.rst",
                     category="2. Discrimination"),
        figs=[report(f"{R}/figures/calibration_{m}.png", caption="../report/calibration_fig.rst",
                     category="2. Discrimination") for m in MODELS],
    params:
        settings=step_params(config, "calibration"),
        models=MODELS,
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
    script:
        "../scripts/calibration.py"


rule clinical_utility:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
        cutoffs=f"{R}/tables/cutoffs.csv",
    output:
        table=report(f"{R}/tables/decision_curve.csv", caption="../report/dca.rst", category="2. Discrimination"),
        dca=[report(f"{R}/figures/dca_{m}.png", caption="../report/dca.rst", category="2. Discrimination")
             for m in MODELS],
        dist=[report(f"{R}/figures/dls_by_label_{m}.png", caption="../report/dls_by_label.rst",
                     category="2. Discrimination") for m in MODELS],
    params:
        settings=step_params(config, "clinical_utility"),
        models=MODELS,
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
    script:
        "../scripts/clinical_utility.py"
