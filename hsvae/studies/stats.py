"""Statistics of a study's runs: means and standard deviations over replicates, validation
curves per epoch, and each sparse run matched with the dense VAE of closest reconstruction."""
import io

import pandas as pd

from hsvae.models.registry import DENSE_REFERENCE, VAE_MODELS
from hsvae.studies.runs import StudyRuns


def summary_table(runs: StudyRuns) -> pd.DataFrame:
    """Per setting and model: mean and standard deviation (n - 1) over replicates, and n."""
    table, keys = runs.table, runs.keys
    metrics = [c for c in table.columns if c not in (*keys, "experiment", "replicate", "model")]
    grouped = table.groupby([*keys, "model"], sort=False, dropna=False)[metrics]
    out = grouped.agg(["mean", "std"])
    out.columns = [f"{metric}_{stat}" for metric, stat in out.columns]
    out["replicates"] = grouped.size()
    return out.reset_index()


def curves(runs: StudyRuns, metric: str) -> dict:
    """(experiment, model) -> validation `metric` per epoch, read from the experiment's commit."""
    found = {}
    for exp, model in runs.table[["experiment", "model"]].drop_duplicates().itertuples(index=False):
        text = runs.show(exp, f"reports/pretrain/{model}/plots/metrics/valid/{metric}.tsv")
        if text is not None:
            found[exp, model] = pd.read_csv(io.StringIO(text), sep="\t")[metric].to_numpy()
    return found


def replicates(runs: StudyRuns) -> str:
    """'n = 3' runs per setting (or 'n = 2-3' where settings have different numbers), counted
    over the studied VAEs: a supervised baseline is trained in every experiment of a study."""
    table = runs.table[runs.table["model"].isin(VAE_MODELS)]
    sizes = table.groupby([*runs.keys, "model"], dropna=False).size()
    low, high = int(sizes.min()), int(sizes.max())
    return f"n = {low}" if low == high else f"n = {low}-{high}"


def matched_reconstruction(table: pd.DataFrame) -> pd.DataFrame:
    """§4.2: for each sparse run, the dense VAE run whose test reconstruction loss is closest
    (the dense VAE: the registry's DENSE_REFERENCE, over its KL weight psi)."""
    dense = table[table["model"] == DENSE_REFERENCE].reset_index(drop=True)
    psi = f"{VAE_MODELS[DENSE_REFERENCE].section}.psi"
    rows = []
    for _, sparse in table[table["model"].isin([n for n, spec in VAE_MODELS.items() if spec.sparse])].iterrows():
        if dense.empty:
            break
        match = dense.iloc[int((dense["rec"] - sparse["rec"]).abs().argmin())]
        rows.append({"sparse_model": sparse["model"], "sparse_experiment": sparse["experiment"],
                     "sparse_rec": sparse["rec"], "sparse_accuracy": sparse["accuracy"], "sparse_ah_sample": sparse["ah_sample"],
                     "vae_experiment": match["experiment"], "vae_psi": match.get(psi), "vae_rec": match["rec"],
                     "vae_accuracy": match["accuracy"], "vae_ah_sample": match["ah_sample"]})
    return pd.DataFrame(rows)
