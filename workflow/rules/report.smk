rule provenance:
    input:
        validated=f"{R}/manifest/validated.parquet",
    output:
        table=in_report(f"{R}/tables/provenance.csv", "provenance"),
        checksums=in_report(f"{R}/tables/data_checksums.csv", "data_checksums"),
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
    params:
        settings=step_params(config, "provenance"),
    script:
        "../scripts/provenance.py"


rule summary:
    input:
        unpack(summary_tables),
    output:
        in_report(f"{R}/summary.html", "summary"),
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
    params:
        settings=step_params(config, "summary"),
    script:
        "../scripts/summary.py"


# Figure 1 (study flow), the methods section and the TRIPOD+AI checklist, written from this run.
rule manuscript:
    input:
        validated=f"{R}/manifest/validated.parquet",
        tables=lambda wc: list(manuscript_tables().values()),
    output:
        flow_table=in_report(
            f"{R}/tables/study_flow.csv", "study_flow", "Study flow (table)"
        ),
        flow_figure=in_report(
            f"{R}/figures/study_flow.png", "study_flow", "Study flow (figure)"
        ),
        pdfs=pdf_of(f"{R}/figures/study_flow.png"),
        methods=in_report(f"{R}/methods.md", "methods"),
        tripod=in_report(f"{R}/tables/tripod_ai.csv", "tripod_ai"),
        paste_ready=in_report(
            directory(f"{R}/tables/manuscript"),
            "manuscript_tables",
            "{name}",
            patterns=["{name}.html"],
        ),
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
    params:
        settings=step_params(config, "manuscript"),
        tables=lambda wc: list(manuscript_tables()),
        produced=lambda wc: produced_outputs(),
    script:
        "../scripts/manuscript.py"


# Every CSV table of the report as a rounded HTML table that the report shows inline (the CSV
# stays the full-precision download beside it).
rule table_views:
    input:
        unpack(lambda wc: report_csvs()),
    output:
        table_views_in_report(directory(f"{R}/tables/views")),
    log:
        f"{R}/logs/table_views.log",
    benchmark:
        f"{R}/benchmarks/table_views.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        settings=step_params(config, "table_views"),
        names=lambda wc: {n: REPORT_CSVS[n][1]["labels"]["item"] for n in report_csvs()},
    script:
        "../scripts/table_views.py"
