rule survival:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
        cutoffs=f"{R}/tables/cutoffs.csv",
    output:
        table=report(f"{R}/tables/survival.csv", caption="../report/survival.rst", category="4. Survival"),
        at_risk=report(f"{R}/tables/survival_at_risk.csv", caption="../report/at_risk.rst", category="4. Survival"),
        km=[report(f, caption="../report/km.rst", category="4. Survival") for f in km_figures().values()],
    params:
        settings=step_params(config, "survival"),
        models=MODELS,
        km_keys=list(km_figures()),
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
    script:
        "../scripts/survival.py"


rule clinical_validation:
    input:
        validated=f"{R}/manifest/validated.parquet",
        scores=expand(f"{R}/scores/{{model}}.parquet", model=MODELS),
        cutoffs=f"{R}/tables/cutoffs.csv",
    output:
        **{t: report(f"{R}/tables/{t}.csv", caption=f"../report/{t}.rst", category="4. Survival and benefit")
           for t in CLINICAL_TABLES},
        forest=[report(f, caption="../report/forest.rst", category="4. Survival and benefit")
                for f in forest_figures().values()],
        four=[report(f, caption="../report/km4.rst", category="4. Survival and benefit")
              for f in four_group_figures().values()],
        dcb_roc=report(f"{R}/figures/roc_dcb.png", caption="../report/roc_dcb.rst", category="4. Survival and benefit"),
    params:
        settings=step_params(config, "clinical_validation"),
        models=MODELS,
        forest_keys=list(forest_figures()),
        four_keys=list(four_group_figures()),
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
    script:
        "../scripts/clinical.py"
