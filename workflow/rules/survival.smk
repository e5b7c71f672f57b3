rule survival:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
        cutoffs=f"{R}/tables/cutoffs.csv",
    output:
        table=in_report(f"{R}/tables/survival.csv", "survival"),
        at_risk=in_report(f"{R}/tables/survival_at_risk.csv", "at_risk"),
        km=[
            in_report(f, "km", model=m, set=s, endpoint=ENDPOINT_NAME[e])
            for (m, s, e), f in km_figures().items()
        ],
        pdfs=pdf_of(list(km_figures().values())),
    log:
        f"{R}/logs/survival.log",
    benchmark:
        f"{R}/benchmarks/survival.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        settings=step_params(config, "survival"),
        models=MODELS,
        km_keys=list(km_figures()),
    script:
        "../scripts/survival.py"


rule clinical_validation:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
        cutoffs=f"{R}/tables/cutoffs.csv",
    output:
        **{t: in_report(f"{R}/tables/{t}.csv", t) for t in CLINICAL_TABLES},
        forest=[
            in_report(f, "forest", model=m, set=s, endpoint=ENDPOINT_NAME[e])
            for (m, s, e), f in forest_figures().items()
        ],
        four=[
            in_report(f, "km4", model=a, marker=b, set=s, endpoint=ENDPOINT_NAME[e])
            for (a, b, s, e), f in four_group_figures().items()
        ],
        dcb_roc=in_report(f"{R}/figures/roc_dcb.png", "roc_dcb"),
        pdfs=pdf_of(
            list(forest_figures().values()),
            list(four_group_figures().values()),
            f"{R}/figures/roc_dcb.png",
        ),
    log:
        f"{R}/logs/clinical_validation.log",
    benchmark:
        f"{R}/benchmarks/clinical_validation.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        settings=step_params(config, "clinical_validation"),
        models=MODELS,
        forest_keys=list(forest_figures()),
        four_keys=list(four_group_figures()),
    script:
        "../scripts/clinical.py"
