"""Benchmark candidate NLU pipelines: train time, model size, parse latency and quality.

    .venv/bin/python bench/nlu_bench.py                       # all candidates, NLU-only training
    .venv/bin/python bench/nlu_bench.py --candidates project  # just the pipeline in config.yml
    .venv/bin/python bench/nlu_bench.py --full                # also time the full `rasa train`

Each candidate is trained NLU-only into a temporary directory (``rasa train nlu``), loaded
once, and scored with `bot.nlu_eval` on the bitext dev set (never trained on), the held-out
off-topic set and the confusable pairs. Latency is per message through the same processor the
server uses (after one warm-up parse). Results: a Markdown table on stdout and
``results/bench/nlu_bench.json``. The machine is shared and has 2 cores: run it on a quiet
machine, and expect a few percent of noise in the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bot.nlu_eval.augment import OUTPUT_NAME as TYPOS_FILE  # noqa: E402
from bot.nlu_eval.runner import load_agent, run_nlu_eval  # noqa: E402

RASA = str(Path(sys.executable).parent / "rasa")
DEV_SET = REPO_ROOT.parent / "shared" / "eval" / "bitext-dev" / "bitext_dev.yml"
OOS_SET = REPO_ROOT / "tests" / "nlu" / "out_of_scope.yml"
PAIRS_SET = REPO_ROOT / "tests" / "nlu" / "confusable_pairs.yml"

_FEATURES = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer", "case_sensitive": False},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
]
_TAIL = [
    {"name": "RegexEntityExtractor", "case_sensitive": False, "use_lookup_tables": True},
    {"name": "EntitySynonymMapper"},
    {"name": "FallbackClassifier", "threshold": 0.35, "ambiguity_threshold": 0.0},
]
_DIET0 = {
    "name": "DIETClassifier",
    "epochs": 40,
    "number_of_transformer_layers": 0,
    "entity_recognition": False,
    "constrain_similarities": True,
    "random_seed": 42,
}

_CHAR24 = [*_FEATURES[:3], {**_FEATURES[3], "max_ngram": 4}]

_ENCODER = {"name": "bot.rasa_plugins.sentence_encoder.SentenceEncoderFeaturizer"}
_LR = {"name": "LogisticRegressionClassifier", "max_iter": 200}

#: name -> (pipeline or None for config.yml's, include the generated typo file?)
CANDIDATES: dict[str, tuple[list[dict] | None, bool]] = {
    "project": (None, True),
    "lr": ([*_FEATURES, {"name": "LogisticRegressionClassifier", "max_iter": 200}, *_TAIL], True),
    "lr-no-typos": (
        [*_FEATURES, {"name": "LogisticRegressionClassifier", "max_iter": 200}, *_TAIL],
        False,
    ),
    "diet0": ([*_FEATURES, _DIET0, *_TAIL], True),
    "diet0-no-typos": ([*_FEATURES, _DIET0, *_TAIL], False),
    "diet0-e30": ([*_FEATURES, {**_DIET0, "epochs": 30}, *_TAIL], True),
    "diet0-char24": ([*_CHAR24, _DIET0, *_TAIL], True),
    # + the pretrained sentence encoder (bot/rasa_plugins/sentence_encoder.py)
    "diet0-char24-enc": ([*_CHAR24, _ENCODER, _DIET0, *_TAIL], True),
    "lr-char24-enc": ([*_CHAR24, _ENCODER, _LR, *_TAIL], True),
    "lr-enc-only": ([*_FEATURES[:2], _ENCODER, _LR, *_TAIL], True),
    "diet0-enc-only": ([*_FEATURES[:2], _ENCODER, _DIET0, *_TAIL], True),
    "diet0-char24-enc-x10": ([*_CHAR24, {**_ENCODER, "scale": 10.0}, _DIET0, *_TAIL], True),
    "diet0-char24-enc-x10-e60": (
        [*_CHAR24, {**_ENCODER, "scale": 10.0}, {**_DIET0, "epochs": 60}, *_TAIL],
        True,
    ),
    "diet0-words-enc-x10": ([*_FEATURES[:3], {**_ENCODER, "scale": 10.0}, _DIET0, *_TAIL], True),
    "svm-enc-only-cv2": (
        [
            *_FEATURES[:2],
            _ENCODER,
            {"name": "SklearnIntentClassifier", "max_cross_validation_folds": 2},
            *_TAIL,
        ],
        True,
    ),
    "lr-enc-only-x10": ([*_FEATURES[:2], {**_ENCODER, "scale": 10.0}, _LR, *_TAIL], True),
    "lr-char24-enc-x10": ([*_CHAR24, {**_ENCODER, "scale": 10.0}, _LR, *_TAIL], True),
    "svm-enc-only": ([*_FEATURES[:2], _ENCODER, {"name": "SklearnIntentClassifier"}, *_TAIL], True),
}


def _env() -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONWARNINGS": "ignore"}  # fmt: skip


def _run(argv: list[str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(argv, cwd=REPO_ROOT, env=_env(), stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed, see {log}")
    return elapsed


def _config(pipeline: list[dict] | None, path: Path) -> Path:
    config = yaml.safe_load((REPO_ROOT / "config.yml").read_text())
    if pipeline is not None:
        config["pipeline"] = pipeline
    config["policies"] = []
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _nlu_dir(with_typos: bool, tmp: Path) -> Path:
    if with_typos:
        return REPO_ROOT / "data" / "nlu"
    target = tmp / "nlu"
    shutil.copytree(REPO_ROOT / "data" / "nlu", target)
    (target / TYPOS_FILE).unlink(missing_ok=True)
    return target


def bench_candidate(name: str, tmp: Path, out_dir: Path) -> dict:
    pipeline, with_typos = CANDIDATES[name]
    work = tmp / name
    work.mkdir()
    config = _config(pipeline, work / "config.yml")
    nlu = _nlu_dir(with_typos, work)
    train_s = _run(
        [RASA, "train", "nlu", "--config", str(config), "--nlu", str(nlu),
         "--domain", str(REPO_ROOT / "domain"), "--out", str(work), "--fixed-model-name", name],
        work / "train.log",
    )  # fmt: skip
    model = work / f"{name}.tar.gz"
    agent = load_agent(model)
    result: dict = {
        "candidate": name,
        "pipeline": [c["name"] for c in yaml.safe_load(config.read_text())["pipeline"]],
        "typo_file": with_typos,
        "train_seconds": round(train_s, 1),
        "model_mb": round(model.stat().st_size / 1e6, 2),
    }
    latencies: list[float] = []
    for label, test_file in (("dev", DEV_SET), ("oos", OOS_SET), ("pairs", PAIRS_SET)):
        report = run_nlu_eval(model, test_file, out_dir / name / label, agent=agent)
        latencies += report.raw_latencies_ms
        if label == "dev":
            result |= {
                "dev_accuracy": round(report.intent_accuracy, 4),
                "dev_macro_f1": round(report.macro_f1, 4),
                "dev_fallback": round(report.in_scope_fallback_rate or 0.0, 4),
                "dev_order_id_f1": round(report.order_id.f1, 4) if report.order_id else None,
            }
        elif label == "oos":
            result["oos_recall"] = round(report.oos_recall or 0.0, 4)
        else:
            result["pairs_accuracy"] = round(report.intent_accuracy, 4)
            result["pairs_fallback"] = round(report.in_scope_fallback_rate or 0.0, 4)
    from bot.nlu_eval.scoring import percentile

    result["parse_ms_p50"] = round(percentile(latencies, 50), 2)
    result["parse_ms_p99"] = round(percentile(latencies, 99), 2)
    return result


def bench_full_training(tmp: Path) -> dict:
    seconds = _run(
        [RASA, "train", "--domain", "domain", "--data", "data", "--config", "config.yml",
         "--out", str(tmp / "full"), "--fixed-model-name", "full", "--force"],
        tmp / "full_train.log",
    )  # fmt: skip
    size = (tmp / "full" / "full.tar.gz").stat().st_size
    return {"candidate": "full rasa train (config.yml)", "train_seconds": round(seconds, 1),
            "model_mb": round(size / 1e6, 2)}  # fmt: skip


COLUMNS = [
    ("candidate", "candidate"), ("train_seconds", "train s"), ("model_mb", "model MB"),
    ("dev_accuracy", "dev acc"), ("dev_macro_f1", "dev macro-F1"), ("dev_fallback", "dev fallback"),
    ("dev_order_id_f1", "order_id F1"), ("oos_recall", "OOS recall"),
    ("pairs_accuracy", "pairs acc"), ("parse_ms_p50", "p50 ms"), ("parse_ms_p99", "p99 ms"),
]  # fmt: skip


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(h for _, h in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]  # fmt: skip
    for row in rows:
        cells = []
        for key, _ in COLUMNS:
            value = row.get(key, "")
            pct = key.endswith(("accuracy", "fallback", "recall"))
            cells.append(f"{value:.1%}" if pct and isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--candidates",
        default="project,diet0-char24,diet0-char24-enc-x10,lr-enc-only-x10,lr-char24-enc-x10",
        help=f"comma-separated, from: {', '.join(CANDIDATES)}",
    )
    parser.add_argument("--full", action="store_true", help="also time the full rasa train")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "bench")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.candidates.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CANDIDATES))
    if unknown:
        parser.error(f"unknown candidates {unknown}; choose from {sorted(CANDIDATES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="nlu_bench_") as tmp_name:
        tmp = Path(tmp_name)
        for name in names:
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            rows.append(bench_candidate(name, tmp, args.out))
        if args.full:
            print("[bench] full rasa train ...", file=sys.stderr, flush=True)
            rows.append(bench_full_training(tmp))
    (args.out / "nlu_bench.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
