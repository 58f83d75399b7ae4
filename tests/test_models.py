import copy
import math

import pytest
import torch

from hsvae.data.batching import collate
from hsvae.models.classifier import SimpleClassifier
from hsvae.data.settings import DataSettings
from hsvae.models.registry import VAE_MODELS, build_vae
from hsvae.models.settings import ArchSettings
from hsvae.pipeline.checks import largest_gru_vae
from hsvae.pipeline.params import settings_model
from tests.conftest import ARCH, HPARAMS, make_batch

GRU_MODELS = ["vae", "vae_l1", "vae_l2", "mat_vae", "hsvae"]


def build(name, arch=ARCH, vocab=30, **overrides):
    torch.manual_seed(0)
    return build_vae(name, vocab, arch, VAE_MODELS[name].config.model_validate({**HPARAMS[name].params(), **overrides}))


@pytest.mark.parametrize("name", GRU_MODELS)
def test_padding_does_not_change_the_encoding(name):
    model = build(name).eval()
    batch = make_batch()
    longer = collate([batch.tokens[i, : batch.lengths[i]].numpy() for i in range(len(batch))] + [list(range(3, 30))],
                     batch.labels.tolist() + [0])
    with torch.no_grad():
        short = model.encoder(batch)
        padded = model.encoder(longer)[: len(batch)]
    assert longer.tokens.shape[1] > batch.tokens.shape[1]
    assert torch.allclose(short, padded, atol=1e-6)


@pytest.mark.parametrize("name", GRU_MODELS)
def test_loss_falls_when_overfitting_a_tiny_batch(name):
    model = build(name)
    batch = make_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    torch.manual_seed(1)
    first = None
    for _ in range(150):
        terms = model.loss_terms(batch)
        first = first if first is not None else float(terms["rec"].detach())
        optimizer.zero_grad()
        terms["total"].backward()
        optimizer.step()
    assert float(model.loss_terms(batch)["rec"].detach()) < 0.5 * first


@pytest.mark.parametrize("latent", [32, 768])
@pytest.mark.parametrize("alpha,beta", [(100.0, 0.1), (0.1, 100.0)])
def test_hsvae_is_finite_with_extreme_priors(latent, alpha, beta):
    model = build("hsvae", ARCH.model_copy(update={"latent_dim": latent}), alpha=alpha, beta=beta)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(20):
        terms = model.loss_terms(make_batch(seed=step))
        assert all(torch.isfinite(v) for v in terms.values()), terms
        optimizer.zero_grad()
        terms["total"].backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        optimizer.step()


@pytest.mark.parametrize("models", [["hsvae"], ["vae", "mat_vae"], ["hsvae", "vae"], []])
def test_the_memory_check_counts_the_parameters_of_the_largest_model_built(models):
    """configure's count (a model built on the meta device without initial values) is the
    parameters of the models built for real; with no GRU VAE, the baseline's (a VAE's) size."""
    params = settings_model()().model_copy(update={
        "data": DataSettings(vocab_size=47), "models": models, "arch": ARCH,
        **{VAE_MODELS[n].section: HPARAMS[n] for n in VAE_MODELS}})
    built = [sum(p.numel() for p in build(name, vocab=50).parameters()) for name in models or ["vae"]]
    assert largest_gru_vae(params) == max(built)


@pytest.mark.parametrize("name", GRU_MODELS)
def test_gradients_reach_every_parameter(name):
    model = build(name)
    model.loss_terms(make_batch())["total"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_encode_shapes_and_hsvae_means():
    model = build("hsvae").eval()
    batch = make_batch()
    with torch.no_grad():
        samples = model.encode(batch, n_samples=5)
        gamma = model.gamma_mean(batch)
        mean = model.posterior_mean(batch)
        _, loc, _ = model.posterior_parts(model.encoder(batch))
        q_raw = model.q_gamma(model.encoder(batch), clamp=False)
    assert samples.shape == (5, len(batch), ARCH.latent_dim)
    assert ((gamma > 0) & (gamma < 1)).all()
    # means read the unclamped posterior (the clamp is a training device)
    assert torch.allclose(mean, (1 - q_raw.concentration1 / (q_raw.concentration1 + q_raw.concentration0)) * loc)
    # each of the K samples draws its own gamma: the samples differ
    assert not torch.allclose(samples[0], samples[1])


def test_hsvae_beta_parameters_are_clamped():
    model = build("hsvae")
    with torch.no_grad():
        model.a_head.bias.fill_(-50.0)  # softplus -> ~0 without the clamp
        model.b_head.bias.fill_(500.0)
        q_gamma, _, _ = model.posterior_parts(model.encoder(make_batch()))
    assert float(q_gamma.concentration1.min()) == 0.5
    assert float(q_gamma.concentration0.max()) == 100.0


def test_mat_vae_total_is_its_weighted_terms():
    model = build("mat_vae", psi=1.0, **{"lambda": 4.0})
    torch.manual_seed(3)
    terms = model.loss_terms(make_batch())
    assert torch.allclose(terms["total"], terms["rec"] + 1.0 * terms["kl_z"] + 4.0 * terms["mmd"])


def test_simple_classifier_learns_a_tiny_batch():
    torch.manual_seed(0)
    model = SimpleClassifier(30, 16, 24, 3)
    batch = make_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        loss = torch.nn.functional.cross_entropy(model(batch), batch.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert (model(batch).argmax(-1) == batch.labels).all()


@pytest.mark.parametrize("name", ["b_vae", "b_hsvae"])
def test_bert_models_train_through_a_saved_tiny_bert(name, tiny_bert):
    model = build(name, ARCH.model_copy(update={"bert": tiny_bert}))
    assert name in VAE_MODELS and model.encoder.output_dim == 16
    before = copy.deepcopy(model.encoder.bert.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    terms = model.loss_terms(make_batch())
    optimizer.zero_grad()
    terms["total"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    # the decoder's shared word embedding has no encoder role here, but it feeds the decoder
    assert missing == []
    optimizer.step()
    changed = any(not torch.equal(before[k], v) for k, v in model.encoder.bert.state_dict().items())
    assert changed  # B-VAE and B-HSVAE fine-tune BERT during pretraining (Adam lr 8e-5)


def test_bert_padding_invariance(tiny_bert):
    model = build("b_vae", ARCH.model_copy(update={"bert": tiny_bert})).eval()
    batch = make_batch()
    with torch.no_grad():
        alone = torch.cat([model.encoder(collate([batch.tokens[i, :1].numpy()], [0], [batch.texts[i]]))
                           for i in range(len(batch))])
        together = model.encoder(batch)
    assert torch.allclose(alone, together, atol=1e-5)


@pytest.mark.parametrize("tokens,chunk", [(37, 8), (600, 300), (600, 1024)])  # chunks of 1, 2 and 3 softmax passes
def test_chunked_cross_entropy_matches_the_plain_one(tokens, chunk):
    from hsvae.models.chunked_ce import linear_cross_entropy

    torch.manual_seed(0)
    linear = torch.nn.Linear(12, 50).double()  # 50 words: padded to 64 inside
    hidden = torch.randn(tokens, 12, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 50, (tokens,))
    weights = torch.rand(tokens, dtype=torch.float64)
    upstream = 3.7  # the backward scales the gradients computed in the forward pass
    plain = (torch.nn.functional.cross_entropy(linear(hidden), targets, reduction="none") * weights).sum()
    grads = torch.autograd.grad(plain * upstream, [hidden, linear.weight, linear.bias])
    chunked = linear_cross_entropy(hidden, linear.weight, linear.bias, targets, weights, chunk=chunk)
    chunked_grads = torch.autograd.grad(chunked * upstream, [hidden, linear.weight, linear.bias])
    assert torch.allclose(chunked, plain)
    with torch.no_grad():  # evaluation's forward-only path
        assert torch.allclose(linear_cross_entropy(hidden, linear.weight, linear.bias, targets, weights, chunk=chunk), plain)
    assert all(torch.allclose(a, b) for a, b in zip(grads, chunked_grads))


def test_decoder_loss_is_the_sentences_summed_cross_entropy_with_or_without_chunks_and_padding():
    """Against a per-sentence loop over the unpadded sentences; the fixed-shape batch of a
    CUDA graph (length rounded up, padding scored with weight 0) gives the same loss."""
    model = build("vae")
    batch = make_batch()
    z = torch.randn(len(batch), ARCH.latent_dim)
    expected = []
    for i in range(len(batch)):
        words = batch.tokens[i, : batch.lengths[i]]
        inputs = torch.cat([torch.tensor([1]), words])
        steps = torch.cat([model.embedding(inputs), z[i].expand(len(inputs), -1)], -1)
        states, _ = model.decoder.gru(steps.unsqueeze(0))
        targets = torch.cat([words, torch.tensor([1])])
        expected.append(torch.nn.functional.cross_entropy(model.decoder.output(states[0]), targets, reduction="sum"))
    expected = torch.stack(expected).mean()
    sentences = [batch.tokens[i, : batch.lengths[i]].numpy() for i in range(len(batch))]
    padded = collate(sentences, batch.labels, batch.texts, length_multiple=6)
    assert batch.tokens.shape[1] == 8 and padded.tokens.shape[1] == 12
    torch.manual_seed(0)
    chunked = build_vae("vae", 30, ARCH, HPARAMS["vae"], ce_chunk=5)
    assert chunked.decoder.ce_chunk == 5
    with torch.no_grad():
        for decoder in (model.decoder, chunked.decoder):
            for b in (batch, padded):
                assert torch.allclose(decoder.reconstruction_loss(z, b), expected, atol=1e-5)


@pytest.mark.parametrize("a,b,on", [(0.3, 0.45, True), (150.0, 300.0, True), (0.2, 0.1, False), (300.0, 120.0, False)])
def test_gamma_is_read_from_the_unclamped_posterior(a, b, on):
    """Head outputs outside the [0.5, 100] clamp: the clamped mean is 0.5 (counted off), the
    unclamped one decides. softplus(bias) + 1e-5 = a with zero weights."""
    model = build("hsvae")
    inverse_softplus = lambda v: math.log(math.expm1(v - 1e-5))  # noqa: E731
    with torch.no_grad():
        for head, value in ((model.a_head, a), (model.b_head, b)):
            head.weight.zero_()
            head.bias.fill_(inverse_softplus(value))
    features = torch.randn(4, model.encoder.output_dim)
    with torch.no_grad():
        gamma = model.gamma_mean_from_features(features)
        clamped = model.q_gamma(features).mean
    assert torch.allclose(gamma, torch.full_like(gamma, a / (a + b)), rtol=1e-4)
    assert torch.allclose(clamped, torch.full_like(clamped, 0.5))  # both bounds crossed the same way
    assert bool((gamma < 0.5).all()) is on


def test_every_vae_trains_on_random_batches(tmp_path, monkeypatch):
    """The authors' batch order: the corpus shuffled each epoch, so each batch spreads over
    sentence lengths like the corpus (MAT-VAE's MMD needs it; length buckets trained HSVAE's
    reconstruction worse than the authors' code)."""
    import numpy as np
    import yaml

    from hsvae.data.corpora import download
    from hsvae.data.preprocess import preprocess
    from hsvae.data.splits import load_splits
    from hsvae.pipeline.configs import stage_configs
    from hsvae.pipeline.params import validate
    from hsvae.training import pretrain as pretrain_module
    from tests.pipeline_utils import ROOT, TINY, overlay

    params = overlay(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)
    params["models"] = ["vae", "mat_vae", "hsvae"]
    settings = validate(params)
    download(settings.data, 0, tmp_path / "raw", tmp_path / "cache")
    preprocess(tmp_path / "raw", tmp_path / "data", settings.data, 0)
    splits = load_splits(tmp_path / "data")
    lengths = splits["train"].lengths
    spread = {}

    def first_epoch_batches(name, model, objective, batches, evaluate, **kwargs):
        spread[name] = np.mean([lengths[b].std() for b in batches(np.random.default_rng(0))])
        raise StopIteration

    monkeypatch.setattr(pretrain_module, "fit", first_epoch_batches)
    for name in ("vae", "mat_vae", "hsvae"):
        try:
            pretrain_module.pretrain(stage_configs(settings)[f"pretrain/{name}"], splits["train"], splits["valid"], 400,
                                     torch.device("cpu"), None, tmp_path / "m.pt", progress=False)
        except StopIteration:
            pass
    corpus = lengths.std()
    for name in ("vae", "mat_vae", "hsvae"):  # random batches: close to the corpus's spread, not buckets
        assert spread[name] > 0.7 * corpus, name


@pytest.mark.parametrize("name", ["vae", "mat_vae", "hsvae"])
def test_models_start_as_the_authors_keras_layers(name):
    """Embedding U(-0.05, 0.05); GRU weights LeCun normal (truncated at 2 sigma, variance
    1/fan_in kept), zero biases; dense layers Glorot uniform, zero bias (Keras's defaults)."""
    torch.manual_seed(0)
    model = build_vae(name, 2003, ArchSettings(embedding_dim=64, hidden_dim=128, latent_dim=32), VAE_MODELS[name].config())
    embedding = model.embedding.weight[1:]
    assert embedding.abs().max() <= 0.05 and embedding.std().item() == pytest.approx(0.1 / 12**0.5, rel=0.02)
    assert not model.embedding.weight[0].any()
    for gru in (model.encoder.gru, model.decoder.gru):
        for pname, value in gru.named_parameters():
            if pname.startswith("bias"):
                assert not value.any(), pname
            else:
                fan_in = value.shape[1]
                assert value.std().item() == pytest.approx(fan_in**-0.5, rel=0.03), pname
                assert value.abs().max().item() <= 2 * fan_in**-0.5 / 0.8796 + 1e-6, pname
    for layer in [m for m in model.modules() if isinstance(m, torch.nn.Linear)]:
        fan_out, fan_in = layer.weight.shape
        limit = (6 / (fan_in + fan_out)) ** 0.5
        assert layer.weight.abs().max() <= limit and not layer.bias.any()
        assert layer.weight.std().item() == pytest.approx(limit / 3**0.5, rel=0.05)


def test_the_encoder_reads_each_sentence_followed_by_eos():
    """The feature is the GRU's state after <eos>, as the authors' encoder reads a sentence:
    checked against each sentence run alone, unpadded, with <eos> appended."""
    from hsvae.data.vocabulary import EOS, PAD

    model = build("hsvae").eval()
    sentences = [[5, 6, 7], [8], []]
    batch = collate([torch.tensor(s, dtype=torch.long).numpy() for s in sentences], [0, 1, 0])
    with torch.no_grad():
        features = model.encoder(batch)
        for row, sentence in enumerate(sentences):
            alone = torch.tensor([(sentence or [PAD]) + [EOS]])
            states, _ = model.encoder.gru(model.embedding(alone))
            assert torch.allclose(features[row], states[0, -1], atol=1e-6)
