rule hyperimage_figure:
    input:
        validated=f"{R}/manifest/validated.parquet",
        slices=slice_dirs(DEV_PIDS),
    output:
        in_report(f"{R}/figures/hyperimages.png", "hyperimages"),
        pdfs=pdf_of(f"{R}/figures/hyperimages.png"),
    log:
        f"{R}/logs/hyperimage_figure.log",
    benchmark:
        f"{R}/benchmarks/hyperimage_figure.tsv"
    conda:
        f"{ENVS}/stats.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=step_params(config, "hyperimage_figure"),
        slice_files=slices_of(DEV_PIDS),
    script:
        "../scripts/hyperimage_figure.py"
