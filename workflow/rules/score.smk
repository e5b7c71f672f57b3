rule score:
    input:
        weights=f"{R}/models/{{model}}/weights.pt",
        slices=slice_dirs(PIDS),
    output:
        scores=f"{R}/scores/{{model}}.parquet",
        features=f"{R}/scores/{{model}}_features.parquet",
        attention=report(f"{R}/tables/attention_{{model}}.csv", caption="../report/attention.rst",
                         category="5. Model"),
    params:
        slice_files=all_slices(),
    log:
        f"{R}/logs/score/{{model}}.log",
    benchmark:
        f"{R}/benchmarks/score/{{model}}.tsv"
    conda:
        f"{ENVS}/dl.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=config["compute"]["score_gpus"],
    script:
        "../scripts/score.py"
