rule provenance:
    input:
        validated=f"{R}/manifest/validated.parquet",
    output:
        table=report(f"{R}/tables/provenance.csv", caption="../report/provenance.rst", category="0. Provenance"),
        checksums=report(f"{R}/tables/data_checksums.csv", caption="../report/data_checksums.rst",
                         category="0. Provenance"),
    params:
        settings=step_params(config, "provenance"),
    log:
        f"{R}/logs/provenance.log",
    benchmark:
        f"{R}/benchmarks/provenance.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 2
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../scripts/provenance.py"


rule summary:
    input:
        unpack(summary_tables),
    output:
        report(f"{R}/summary.html", caption="../report/summary.rst", category="0. Summary"),
    params:
        settings=step_params(config, "summary"),
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


# Figure 1 (study flow), the methods section and the TRIPOD+AI checklist, written from this run.
rule manuscript:
    input:
        validated=f"{R}/manifest/validated.parquet",
        tables=lambda wc: list(manuscript_tables().values()),
    output:
        flow_table=report(f"{R}/tables/study_flow.csv", caption="../report/study_flow.rst", category="1. Patients"),
        flow_figure=report(f"{R}/figures/study_flow.png", caption="../report/study_flow.rst", category="1. Patients"),
        methods=report(f"{R}/methods.md", caption="../report/methods.rst", category="0. Methods"),
        tripod=report(f"{R}/tables/tripod_ai.csv", caption="../report/tripod_ai.rst", category="0. Methods"),
    params:
        settings=step_params(config, "manuscript"),
        tables=lambda wc: list(manuscript_tables()),
        produced=lambda wc: produced_outputs(),
    log:
        f"{R}/logs/manuscript.log",
    benchmark:
        f"{R}/benchmarks/manuscript.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/manuscript.py"
