# One network per model (split.method: holdout), or one per model and fold (kfold,
# leave_site_out: see dlscore.folds) gathered by fold_ensemble into the model's weights.pt.
# Both run as rule `train`, so a SLURM profile gives the same GPU resources to each fold.
TRAIN_OUT = f"{R}/models/{{model}}/folds/{{fold}}" if FOLDS else f"{R}/models/{{model}}"


rule train:
    input:
        validated=f"{R}/manifest/validated.parquet",
        slices=slice_dirs(DEV_PIDS),
    output:
        weights=f"{TRAIN_OUT}/weights.pt",
        history=f"{TRAIN_OUT}/history.csv",
        card=f"{TRAIN_OUT}/model_card.json",
    log:
        f"{R}/logs/train/{{model}}" + ("_fold{fold}" if FOLDS else "") + ".log",
    benchmark:
        f"{R}/benchmarks/train/{{model}}" + ("_fold{fold}" if FOLDS else "") + ".tsv"
    conda:
        f"{ENVS}/{DL_ENV}.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=config["compute"]["train_gpus"],
    params:
        settings=lambda wc: step_params(config, "train", model=wc.model),
        slice_files=slices_of(DEV_PIDS),
    script:
        "../scripts/train.py"


if FOLDS:

    rule fold_ensemble:
        input:
            weights=expand(
                f"{R}/models/{{{{model}}}}/folds/{{fold}}/weights.pt", fold=FOLDS
            ),
            history=expand(
                f"{R}/models/{{{{model}}}}/folds/{{fold}}/history.csv", fold=FOLDS
            ),
            card=expand(
                f"{R}/models/{{{{model}}}}/folds/{{fold}}/model_card.json", fold=FOLDS
            ),
        output:
            weights=f"{R}/models/{{model}}/weights.pt",
            history=f"{R}/models/{{model}}/history.csv",
            card=f"{R}/models/{{model}}/model_card.json",
        log:
            f"{R}/logs/fold_ensemble/{{model}}.log",
        benchmark:
            f"{R}/benchmarks/fold_ensemble/{{model}}.tsv"
        conda:
            f"{ENVS}/{DL_ENV}.yaml"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=10,
        params:
            settings=lambda wc: step_params(config, "fold_ensemble", model=wc.model),
        script:
            "../scripts/fold_ensemble.py"
