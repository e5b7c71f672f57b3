rule score:
    input:
        weights=model_weights,
        validated=f"{R}/manifest/validated.parquet",
        slices=slice_dirs(PIDS),
    output:
        scores=f"{R}/scores/{{model}}.parquet",
        features=f"{R}/scores/{{model}}_features.parquet",
        attention=in_report(
            f"{R}/tables/attention_{{model}}.csv", "attention", model="{model}"
        ),
    log:
        f"{R}/logs/score/{{model}}.log",
    benchmark:
        f"{R}/benchmarks/score/{{model}}.tsv"
    conda:
        f"{ENVS}/{DL_ENV}.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=config["compute"]["score_gpus"],
    params:
        settings=lambda wc: step_params(config, "score", model=wc.model),
        slice_files=all_slices(),
    script:
        "../scripts/score.py"


# Grad-CAM overlays and the clustered heat-map of the deep features, per trained model.
rule explain:
    input:
        weights=model_weights,
        validated=f"{R}/manifest/validated.parquet",
        scores=f"{R}/scores/{{model}}.parquet",
        features=f"{R}/scores/{{model}}_features.parquet",
        history=model_history,
    output:
        training=in_report(
            f"{R}/figures/training_{{model}}.png", "training", model="{model}"
        ),
        gradcam=in_report(
            f"{R}/figures/gradcam_{{model}}.png", "gradcam", model="{model}"
        ),
        clustermap=in_report(
            f"{R}/figures/deep_features_{{model}}.png",
            "deep_features",
            model="{model}",
        ),
        activations=in_report(
            f"{R}/figures/activations_{{model}}.png", "activations", model="{model}"
        ),
        clusters=in_report(
            f"{R}/tables/deep_clusters_{{model}}.csv", "deep_clusters", model="{model}"
        ),
        pdfs=pdf_of(
            [
                f"{R}/figures/{k}_{{model}}.png"
                for k in ("training", "gradcam", "deep_features", "activations")
            ]
        ),
    log:
        f"{R}/logs/explain/{{model}}.log",
    benchmark:
        f"{R}/benchmarks/explain/{{model}}.tsv"
    conda:
        f"{ENVS}/{DL_ENV}.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        settings=lambda wc: step_params(config, "explain", model=wc.model),
        slice_files=slices_of(PIDS),
    script:
        "../scripts/explain.py"
