"""`hsvae encode` and `hsvae neighbours`: sparse codes of your own sentences;
`hsvae study run|report NAME`: the paper's comparisons over settings and replicates."""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from hsvae.atomic import atomic_path
from hsvae.device import resolve_device
from hsvae.encode import chunks, load_encoder, neighbours
from hsvae.errors import MissingInput
from hsvae.pipeline.stage import USER_ERRORS


def _lines(path):
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="replace")
    with stream:
        for line in stream:
            yield line.rstrip("\n")


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _check_input(path):
    if path != "-" and not Path(path).is_file():
        raise MissingInput(f"--input {path}: not a file")


def encode_command(args):
    _check_input(args.input)
    encoder = load_encoder(args.model, resolve_device(args.device), active_threshold=args.threshold,
                           batch_size=args.batch_size)
    if args.output == "-":
        _encode_to(encoder, args, sys.stdout)
    else:  # the output appears whole at the end, or not at all; an existing file is kept until then
        with atomic_path(args.output) as tmp:
            if args.format == "jsonl":
                with open(tmp, "w") as out:
                    _encode_to(encoder, args, out)
            else:
                _encode_to(encoder, args, None, tmp)


UNKNOWN_WARNING = 0.3  # share of unknown input words above which the codes say little


def _encode_to(encoder, args, out, npz_path=None):
    """Encode the input in chunks: JSON Lines records to `out`, or arrays to `npz_path`."""
    parts = {"mean": [], "gamma": [], "active": [], "n_active": [], "unk_rate": []}
    words = unknown = 0
    bar = tqdm(unit=" sentences", disable=args.quiet, file=sys.stderr)
    for chunk in chunks(_lines(args.input), args.chunk):
        codes = encoder.encode(chunk)
        unknown += float((codes["unk_rate"] * np.array(codes["tokens"])).sum())
        words += sum(codes["tokens"])
        if npz_path is None:
            for i in range(len(chunk)):
                record = {"mean": [round(float(v), 4) for v in codes["mean"][i]],
                          "gamma": None if codes["gamma"] is None else [round(float(v), 4) for v in codes["gamma"][i]],
                          "active": codes["active"][i].tolist(), "n_active": int(codes["n_active"][i]),
                          "unk_rate": round(float(codes["unk_rate"][i]), 4)}
                if args.text:
                    record["text"] = chunk[i]
                out.write(json.dumps(record) + "\n")
        else:
            mask = np.zeros(codes["mean"].shape, dtype=bool)
            for row, active in enumerate(codes["active"]):
                mask[row, active] = True
            for key, value in (("mean", codes["mean"]), ("gamma", codes["gamma"]), ("active", mask),
                               ("n_active", codes["n_active"]), ("unk_rate", codes["unk_rate"])):
                if value is not None:
                    parts[key].append(value)
        bar.update(len(chunk))
    bar.close()
    if words and unknown / words > UNKNOWN_WARNING:
        print(f"warning: {unknown / words:.0%} of the input's words are not in the model's vocabulary "
              "(they read as <unk>); their codes say little about them", file=sys.stderr)
    if npz_path is not None:
        with open(npz_path, "wb") as f:
            np.savez(f, **{k: np.concatenate(v) for k, v in parts.items() if v})


def neighbours_command(args):
    _check_input(args.corpus)
    encoder = load_encoder(args.model, resolve_device(args.device), active_threshold=args.threshold)
    for score, index, sentence in neighbours(encoder, args.query, _lines(args.corpus), args.k, args.by):
        print(f"{score:.4f}\t{index}\t{sentence}")


def study_command(args):
    from hsvae.studies.report import write_report
    from hsvae.studies.run import run_study

    if args.action == "report":
        print(f"wrote {write_report(args.name, extra=args.set, rev=args.rev)}/")
        return 0
    result = run_study(args.name, args.set, args.address, args.cpus_per_run, args.gpus_per_run, args.git_remote)
    print(f"study {args.name}: {result['ran']} ran, {result['skipped']} already done, {len(result['failed'])} failed")
    for name, error in result["failed"].items():
        print(f"failed: {name}: {error}", file=sys.stderr)
    return 1 if result["failed"] else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="hsvae", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", default="models/hsvae.pt", help="a model written by the pretrain stage")
    common.add_argument("--device", default="auto", help="auto (CUDA when present, as the pipeline), cpu, cuda, cuda:N")
    common.add_argument("--threshold", type=float, default=0.5,
                        help="non-HSVAE models: active when |mean z| / its training std exceeds this")
    enc = sub.add_parser("encode", parents=[common], help="codes of sentences, one per input line")
    enc.add_argument("--input", default="-", help="a text file, or - for standard input")
    enc.add_argument("--output", default="-", help="JSON Lines file (or - for stdout), or an .npz file")
    enc.add_argument("--format", choices=("jsonl", "npz"), default="jsonl")
    enc.add_argument("--batch-size", type=_positive, default=256)
    enc.add_argument("--chunk", type=_positive, default=10_000, help="sentences read at a time")
    enc.add_argument("--text", action="store_true", help="JSON Lines: include each input sentence")
    enc.add_argument("--quiet", action="store_true")
    near = sub.add_parser("neighbours", parents=[common], help="sentences sharing the query's active dimensions")
    near.add_argument("query")
    near.add_argument("--corpus", required=True, help="a text file of sentences to search")
    near.add_argument("-k", type=_positive, default=5)
    near.add_argument("--by", choices=("jaccard", "cosine"), default="jaccard")
    study = sub.add_parser("study", help="run or report a study declared under `studies` in params.yaml")
    study.add_argument("action", choices=("run", "report"))
    study.add_argument("name", help="a study of params.yaml, e.g. stability, signal, fig2")
    study.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override applied to every run, as dvc exp run -S (e.g. preset=paper)")
    study.add_argument("--rev", default="HEAD", help="report: the commit the study ran on (default HEAD)")
    study.add_argument("--address", help="join this Ray cluster (default: an embedded local Ray)")
    study.add_argument("--cpus-per-run", type=float, default=1.0, help="Ray CPUs per run (default 1)")
    study.add_argument("--gpus-per-run", type=float, default=0.0,
                       help="Ray GPUs per run; fractions share a GPU between runs (e.g. 0.25)")
    study.add_argument("--git-remote", help="machines share no filesystem: a git URL the workers clone from and "
                                            "push experiments to (with the repository's default DVC remote)")
    args = parser.parse_args(argv)
    if args.command == "encode" and args.format == "npz" and args.output == "-":
        parser.error("--format npz needs --output FILE.npz")
    try:
        if args.command == "study":
            return study_command(args)
        (encode_command if args.command == "encode" else neighbours_command)(args)
    except BrokenPipeError:  # e.g. `hsvae encode ... | head -1`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
