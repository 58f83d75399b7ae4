"""Runs one of the authors' patched scripts in the TensorFlow environment (never imported by
this package; TensorFlow only): their data loading, their model, their optimizer, their training
loop and its validation printout, with the cross-check's settings instead of the values their
`__main__` block hard-codes (Yahoo paths, 15 epochs, GRU 512, latent 768).

    python tf_driver.py PATCHED_SCRIPT DATA_DIR SETTINGS_JSON SEED

DATA_DIR holds train.txt, valid.txt and vocab.txt as the cross-check writes them; SETTINGS_JSON
the model ("hsvae" | "mat_vae") and its sizes and weights. The log goes to standard output."""
import importlib.util
import json
import math
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # their Keras 2 layers (tf-keras)


def main(script, data, settings_path, seed):
    import numpy as np
    import tensorflow as tf

    settings = json.load(open(settings_path))
    spec = importlib.util.spec_from_file_location("authors_model", script)
    authors = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(authors)  # not as __main__: their hard-coded run does not start
    tf.keras.utils.set_random_seed(seed)

    train, lang, _ = authors.load_dataset(os.path.join(data, "train.txt"), vocab_file=os.path.join(data, "vocab.txt"))
    valid, _, _ = authors.load_dataset(os.path.join(data, "valid.txt"), text_lang=lang, is_test_data=True)
    batch_size = settings["batch_size"]
    dataset = tf.data.Dataset.from_tensor_slices(train).shuffle(len(train)).batch(batch_size, drop_remainder=False)
    n_batch = math.ceil(len(train) / batch_size)
    optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=settings["lr"])
    sizes = (settings["embedding_dim"], len(lang.word2idx), settings["hidden_dim"], settings["latent_dim"])
    device = "/cpu:0"
    if settings["model"] == "hsvae":
        vae = authors.Sentence_VAE(*sizes, settings["psi"], settings["lambda"], settings["beta"], settings["alpha"])
        authors.train(settings["epochs"], len(train), vae, dataset, optimizer, lang, n_batch, None, None, valid,
                      settings["temperature"], device=device)
    else:
        dim = settings["latent_dim"]
        prior = authors.Sparse(np.full((1, dim), settings["gamma"]), np.full((1, dim), 0.0), np.full((1, dim), 1.0))
        # Their MAT-VAE names the MMD weight alpha and the KL weight beta.
        vae = authors.Sentence_VAE(*sizes, prior, settings["lambda"], settings["psi"])
        authors.train(settings["epochs"], len(train), vae, dataset, optimizer, lang, n_batch, None, valid,
                      device=device)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
