rule provenance:
    input:
        validated=f"{R}/manifest/validated.parquet",
    output:
        report(f"{R}/tables/provenance.csv", caption="../report/provenance.rst", category="0. Provenance"),
    log:
        f"{R}/logs/provenance.log",
    benchmark:
        f"{R}/benchmarks/provenance.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/provenance.py"


def summary_tables(wildcards):
    tables = {"splits": f"{R}/manifest/splits.csv", "survival": f"{R}/tables/survival.csv",
              **{t: f"{R}/tables/{t}.csv" for t in ("dcb", "hr_difference", "cindex")}}
    if not SCORES_ONLY:
        tables.update(discrimination=f"{R}/tables/discrimination.csv",
                      reproducibility=f"{R}/tables/reproducibility.csv")
    return tables


rule summary:
    input:
        unpack(summary_tables),
    output:
        report(f"{R}/summary.html", caption="../report/summary.rst", category="0. Summary"),
    log:
        f"{R}/logs/summary.log",
    benchmark:
        f"{R}/benchmarks/summary.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/summary.py"
