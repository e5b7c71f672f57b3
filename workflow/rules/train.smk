rule train:
    input:
        validated=f"{R}/manifest/validated.parquet",
        slices=slice_dirs(DEV_PIDS),
    output:
        weights=f"{R}/models/{{model}}/weights.pt",
        history=f"{R}/models/{{model}}/history.csv",
        card=f"{R}/models/{{model}}/model_card.json",
    params:
        settings=lambda wc: step_params(config, "train", model=wc.model),
        slice_files=slices_of(DEV_PIDS),
    log:
        f"{R}/logs/train/{{model}}.log",
    benchmark:
        f"{R}/benchmarks/train/{{model}}.tsv"
    conda:
        f"{ENVS}/dl.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config["compute"]["train_gpus"],
    script:
        "../scripts/train.py"
