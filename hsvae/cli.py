"""`hsvae encode` and `hsvae neighbours`: sparse codes of your own sentences;
`hsvae study run|report NAME`: the paper's comparisons over settings and replicates."""
import argparse
import json
import math
import os
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
from tqdm import tqdm

from hsvae.core.atomic import atomic_path
from hsvae.core.device import resolve_device
from hsvae.encode import chunks, load_encoder, neighbours
from hsvae.core.errors import MissingInput, UserError
from hsvae.pipeline.stage import USER_ERRORS


def _lines(path):
    """The input's lines as `wc -l` counts them: split at "\n" only (a lone "\r" stays inside
    its line; a CRLF line ending is removed whole)."""
    stream = sys.stdin.buffer if path == "-" else open(path, "rb")
    with stream:
        for line in stream:
            yield line.rstrip(b"\n").removesuffix(b"\r").decode("utf-8", errors="replace")


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _threshold(text):
    """|mean z| / std is >= 0: a negative threshold would mark every dimension active."""
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def _check_input(path, option="--input"):
    if path == "-":
        if sys.stdin.isatty():
            raise UsageError(f"{option} -: standard input is a terminal; pipe sentences in or give {option} FILE")
    elif not Path(path).is_file():
        raise MissingInput(f"{option} {path}: not a file")


def _check_output(args):
    """The output is a new or replaceable file, never the input itself (nor a link to it)."""
    if args.output == "-":
        return
    output = Path(args.output)
    if output.is_dir():
        raise UsageError(f"--output {output}: a folder; expected a file name")
    if args.input != "-" and output.exists() and os.path.samefile(output, args.input):
        raise UsageError(f"--output {output}: this is the input file; the codes would replace your sentences")


def encode_command(args):
    _check_input(args.input)
    _check_output(args)
    encoder = load_encoder(args.model, resolve_device(args.device, "--device"), active_threshold=args.threshold,
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
    bar = tqdm(unit=" sentences", disable=True if args.quiet else None, file=sys.stderr)
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
    _check_input(args.corpus, "--corpus")
    encoder = load_encoder(args.model, resolve_device(args.device, "--device"), active_threshold=args.threshold)
    for score, index, sentence in neighbours(encoder, args.query, _lines(args.corpus), args.k, args.by):
        print(f"{score:.4f}\t{index}\t{sentence}")


def study_run_command(args):
    from hsvae.studies.run import run_study

    if getattr(args, "jobs", 0) and (args.address or args.gpus_per_run):
        raise UsageError("--jobs runs on this machine without Ray: leave out --address and --gpus-per-run")

    result = run_study(args.name, args.set, args.address, args.cpus_per_run, args.gpus_per_run, args.git_remote,
                       jobs=getattr(args, "jobs", 0))
    print(f"study {args.name}: {result['ran']} ran, {result['skipped']} already done, {len(result['failed'])} failed")
    for name, error in result["failed"].items():
        print(f"failed: {name}: {error}", file=sys.stderr)
    return 1 if result["failed"] else 0


def study_report_command(args):
    from hsvae.studies.report import write_report

    out = write_report(args.name, out=args.out, extra=args.set, rev=args.rev, allow_missing=args.allow_missing,
                       figures=args.figures)
    print(f"wrote {out}/")
    return 0


def _text_lines(path, option) -> list:
    """A text file's lines for `hsvae explore`: refused when empty or not text."""
    data = Path(path).read_bytes()
    if b"\0" in data:
        raise UsageError(f"{option} {path}: not a text file (it holds NUL bytes); expected one sentence per line")
    lines = list(_lines(path))
    if not any(line.strip() for line in lines):
        raise UsageError(f"{option} {path}: no sentences; expected one sentence per line")
    return lines


def explore_command(args):
    from hsvae.analysis.explore import explore, write_explorer
    from hsvae.data.preprocess import tokenize

    inputs = [("--input", args.input), ("--model", args.model)] + ([("--labels", args.labels)] if args.labels else [])
    for option, path in inputs:
        if not Path(path).is_file():
            raise MissingInput(f"{option} {path}: not a file")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: a file; expected a folder for the explorer's page and data")
    for option, path in inputs:
        if Path(path).exists() and (out.resolve() == Path(path).resolve() or out.resolve() in Path(path).resolve().parents):
            raise UsageError(f"--out {out}: holds {option} {path}; choose a folder of its own")
    sentences = _text_lines(args.input, "--input")
    labels = names = None
    if args.labels:
        given = _text_lines(args.labels, "--labels")
        if len(given) != len(sentences):
            raise UsageError(f"--labels {args.labels}: {len(given)} labels for the {len(sentences)} sentences of "
                             f"--input {args.input}; expected one label per line, one per sentence")
        names = sorted(set(label.strip() for label in given))
        labels = np.array([names.index(label.strip()) for label in given])
    encoder = load_encoder(args.model, resolve_device(args.device, "--device"))
    texts = [" ".join(tokens) for tokens in tokenize(sentences, encoder.tokenizer)]
    mean, gamma = encoder.encode_tokens([t.split() for t in texts])
    # a user's file has no training split beside it: its own sentences are the coherence reference
    explored = explore(mean, gamma, encoder.scale, texts, labels, names or [], texts)
    name = Path(args.model).stem
    found = write_explorer(out, name, f"{name}: what each dimension means ({Path(args.input).name})", explored)
    print(f"wrote {out / (name + '.html')} and {out / (name + '.json')}: {found['active_dimensions']} active "
          f"dimensions, {found['dead']} dead, {found['always_on']} always on")
    return 0


def crosscheck_run_command(args):
    from hsvae.crosscheck.run import crosscheck

    done = crosscheck(Path(args.out), Path(args.work), args.seeds, args.models, args.implementations,
                      args.authors_code, args.tf_python, args.set)
    print(f"cross-check: {len(done['runs'])} runs in {args.out}/runs")
    return 0


def crosscheck_report_command(args):
    from hsvae.crosscheck.report import write_report

    print(f"wrote {write_report(Path(args.out))}")
    return 0


def findings_command(args):
    from hsvae.findings import write_findings

    found = write_findings(Path(args.out), *(Path(p) if p else None for p in
                                             (args.stability, args.fig2, args.fig2_768, args.crosscheck)))
    for finding in found:
        print(f"{finding.verdict:>24}  {finding.claim}")
    print(f"wrote {Path(args.out) / 'findings.json'} and {Path(args.out) / 'findings.md'}")
    return 0


class UsageError(UserError):
    pass


def _parser():
    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="hsvae", description=__doc__, formatter_class=formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('hsvae')}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{encode,neighbours,explore,study,crosscheck,findings}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", default="models/hsvae.pt", help="a model file written by the pretrain stage")
    common.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    common.add_argument("--threshold", type=_threshold, default=0.5,
                        help="models without gamma: a dimension is active when |mean z| / its training std "
                             "exceeds this (HSVAE: when its mean spike probability is below 0.5)")
    enc = sub.add_parser("encode", parents=[common], formatter_class=formatter,
                         help="sparse codes of sentences, one per input line",
                         description="Sparse codes of your sentences (one per line): posterior mean, mean "
                                     "spike probability (HSVAE) and the active dimensions, as JSON Lines or npz.")
    enc.add_argument("--input", default="-", help="a text file of sentences, one per line, or - for standard input")
    enc.add_argument("--output", default="-", help="a file (.npz for the npz format), or - for standard output")
    enc.add_argument("--format", choices=("jsonl", "npz"), default=argparse.SUPPRESS,
                     help="(default: npz for an --output ending in .npz, jsonl otherwise)")
    enc.add_argument("--batch-size", type=_positive, default=256, help="sentences per encoder pass")
    enc.add_argument("--chunk", type=_positive, default=10_000, help="sentences read at a time")
    enc.add_argument("--text", action="store_true", help="JSON Lines: include each input sentence")
    enc.add_argument("--quiet", action="store_true", help="no progress bar")
    near = sub.add_parser("neighbours", parents=[common], formatter_class=formatter,
                          help="sentences sharing the query's active dimensions",
                          description="The sentences of a corpus file closest to a query sentence, by overlap of "
                                      "active dimensions (Jaccard) or by cosine of the posterior means.")
    near.add_argument("query", help="the query sentence")
    near.add_argument("--corpus", required=True, help="a text file of sentences to search, one per line")
    near.add_argument("-k", type=_positive, default=5, help="how many sentences to show")
    near.add_argument("--by", choices=("jaccard", "cosine"), default="jaccard", help="similarity")
    study = sub.add_parser("study", formatter_class=formatter, help="run or report a study (conf/studies.yaml)",
                           description="Studies are named grids of settings x replicate seeds, declared under "
                                       "conf/studies.yaml; each run is one DVC experiment.")
    actions = study.add_subparsers(dest="action", required=True, metavar="{run,report}")
    settings = argparse.ArgumentParser(add_help=False)
    settings.add_argument("name", help="a study of conf/studies.yaml, e.g. stability, signal, fig2")
    settings.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE",
                          help="an override applied to every run, as dvc exp run -S (e.g. preset=paper); repeatable")
    run = actions.add_parser("run", parents=[settings], formatter_class=formatter,
                             help="run the study's missing experiments on Ray or on this machine",
                             description="Run every point x replicate of a study not yet run for this commit, each "
                                         "as a DVC experiment, on an embedded Ray, a Ray cluster, or (--jobs N) on "
                                         "this machine without Ray.")
    run.add_argument("--address", help="join this Ray cluster (default: an embedded local Ray)")
    run.add_argument("--jobs", type=_positive, default=argparse.SUPPRESS,
                     help="run N experiments at a time on this machine, without Ray (default: Ray)")
    run.add_argument("--cpus-per-run", type=float, default=1.0, help="threads per run (and its Ray CPUs)")
    run.add_argument("--gpus-per-run", type=float, default=0.0,
                     help="Ray GPUs per run; fractions share a GPU between runs (e.g. 0.25)")
    run.add_argument("--git-remote", help="machines share no filesystem: a git URL the workers clone from and "
                                          "push experiments to (with the repository's default DVC remote)")
    report = actions.add_parser("report", parents=[settings], formatter_class=formatter,
                                help="tables and figures of a study's experiments",
                                description="Means and standard deviations over replicates and the paper's "
                                            "figures, from the study's experiments, in reports/studies/NAME/ "
                                            "(or --out).")
    report.add_argument("--rev", default="HEAD", help="the commit the study ran on")
    report.add_argument("--out", help="the report's folder (default: reports/studies/NAME)")
    report.add_argument("--allow-missing", action="store_true",
                        help="report a study some of whose runs have no experiment (the README lists them)")
    report.add_argument("--figures", nargs="+", metavar="KIND",
                        help="draw only these of the study's figures (e.g. leave out explore, whose pages at 768 "
                             "dimensions are 8 MB a model)")
    exp = sub.add_parser("explore", formatter_class=formatter,
                         help="what each dimension means, on your sentences: a page and its data",
                         description="For every latent dimension of a model: how often it is on, the sentences that "
                                     "switch it on, its words, its classes (with --labels) and the dimensions that "
                                     "switch on with it; one self-contained HTML page (docs/explore.md).")
    exp.add_argument("--model", default="models/hsvae.pt", help="a model file written by the pretrain stage")
    exp.add_argument("--input", required=True, help="a text file of sentences, one per line")
    exp.add_argument("--labels", help="a text file of one class label per line, one per sentence")
    exp.add_argument("--out", required=True, help="the folder for MODEL.html and MODEL.json")
    exp.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    cross = sub.add_parser("crosscheck", formatter_class=formatter,
                           help="train the authors' TensorFlow HSVAE and MAT-VAE beside this repository's",
                           description="The authors' scripts (their commit, verified by git blob id, patched for "
                                       "TensorFlow's API drift at run time) and this repository's models on the "
                                       "same split, vocabulary and settings; see docs/crosscheck.md.")
    steps = cross.add_subparsers(dest="action", required=True, metavar="{run,report}")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--out", default="reports/crosscheck", help="the results' folder")
    crun = steps.add_parser("run", parents=[where], formatter_class=formatter, help="make the missing runs")
    crun.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    crun.add_argument("--models", nargs="+", choices=("hsvae", "mat_vae"), default=["hsvae", "mat_vae"])
    crun.add_argument("--implementations", nargs="+", choices=("authors", "ours"), default=["authors", "ours"])
    crun.add_argument("--authors-code", help="a folder holding the authors' repository's Scripts/ "
                                             "(default: download their commit)")
    crun.add_argument("--tf-python", default=sys.executable,
                      help="the Python of the TensorFlow environment (requirements-crosscheck.txt)")
    crun.add_argument("--work", default=".crosscheck", help="data, patched scripts and logs")
    crun.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE",
                      help="a params override, e.g. data.source_dir=DIR (the authors' DBpedia files); repeatable")
    steps.add_parser("report", parents=[where], formatter_class=formatter,
                     help="the figures and the agreement table of the runs made")
    find = sub.add_parser("findings", formatter_class=formatter,
                          help="decide the paper's findings from the committed study reports",
                          description="Each of the paper's findings decided by one stated criterion from the study "
                                      "reports and the cross-check; writes findings.json and findings.md.")
    find.add_argument("--stability", default="reports/studies/dbpedia-stability", help="the stability study's report")
    find.add_argument("--fig2", default="reports/studies/dbpedia-fig2", help="the fig2 study's report")
    find.add_argument("--fig2-768", default="reports/studies/dbpedia-fig2-768",
                      help="the fig2 study's report at arch.latent_dim=768")
    find.add_argument("--crosscheck", default="reports/crosscheck", help="the cross-check's folder")
    find.add_argument("--out", default="reports", help="where findings.json and findings.md go")
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "encode":
        by_name = "npz" if args.output.endswith(".npz") else "jsonl"
        asked = getattr(args, "format", None)
        if asked is not None and args.output != "-" and asked != by_name:
            parser.error(f"--format {asked} with --output {args.output}: name an npz output *.npz, "
                         "and a JSON Lines output anything else")
        args.format = asked or by_name
        if args.format == "npz" and args.output == "-":
            parser.error("--format npz needs --output FILE.npz")
    commands = {"encode": encode_command, "neighbours": neighbours_command}
    try:
        if args.command == "study":
            return (study_run_command if args.action == "run" else study_report_command)(args)
        if args.command == "explore":
            return explore_command(args)
        if args.command == "findings":
            return findings_command(args)
        if args.command == "crosscheck":
            return (crosscheck_run_command if args.action == "run" else crosscheck_report_command)(args)
        commands[args.command](args)
    except BrokenPipeError:  # e.g. `hsvae encode ... | head -1`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
