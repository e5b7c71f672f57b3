# Radiomics signature (config `signature.enabled`): RAsig from the radiomics feature table
# (imaging studies) or a user's PyRadiomics CSV (scores-only studies, `signature.features`);
# RADLsig and DLS + clinical when a trained model's DLS exists.
if SIGNATURE:

    rule signature:
        input:
            unpack(signature_inputs),
        output:
            tables=[
                in_report(f"{R}/tables/{t}.csv", "signature", t.replace("_", " "))
                for t in SIGNATURE_TABLES
            ],
            scores=f"{R}/scores/rasig.parquet",
            cutoff=f"{R}/tables/signature_cutoff.csv",
            roc=in_report(f"{R}/figures/roc_signatures.png", "signature_roc"),
            heatmap=in_report(
                f"{R}/figures/radiomics_dls_heatmap.png", "signature_heatmap"
            ),
            pdfs=pdf_of(
                f"{R}/figures/roc_signatures.png",
                f"{R}/figures/radiomics_dls_heatmap.png",
            ),
        log:
            f"{R}/logs/signature.log",
        benchmark:
            f"{R}/benchmarks/signature.tsv"
        conda:
            f"{ENVS}/stats.yaml"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=30,
        params:
            settings=step_params(config, "signature"),
        script:
            "../scripts/signature.py"
