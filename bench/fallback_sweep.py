"""Sweep the FallbackClassifier threshold of a trained model without retraining it.

    .venv/bin/python bench/fallback_sweep.py --model models/relaydesk.tar.gz 0.25 0.3 0.35 0.4

Parses the bitext dev set, the held-out off-topic set and the confusable pairs once, then
re-scores them for each threshold: a message whose best intent (other than ``nlu_fallback``)
has a confidence below the threshold counts as ``nlu_fallback``. The FallbackClassifier keeps
the classifier's ranking (it only puts ``nlu_fallback`` in front), so this is what the model
would answer with that threshold in ``config.yml``, above or below the one it was trained with.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bot.nlu_eval import scoring  # noqa: E402
from bot.nlu_eval.runner import _parse_all, load_agent, load_test_examples  # noqa: E402

SETS = {
    "dev": REPO_ROOT.parent / "shared" / "eval" / "bitext-dev" / "bitext_dev.yml",
    "oos": REPO_ROOT / "tests" / "nlu" / "out_of_scope.yml",
    "pairs": REPO_ROOT / "tests" / "nlu" / "confusable_pairs.yml",
}


def intent_at_threshold(parse: dict[str, Any], threshold: float) -> str:
    ranking = [r for r in parse.get("intent_ranking") or [] if r["name"] != scoring.FALLBACK]
    if not ranking or ranking[0]["confidence"] < threshold:
        return scoring.FALLBACK
    return str(ranking[0]["name"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("thresholds", type=float, nargs="+")
    args = parser.parse_args(argv)
    agent = load_agent(args.model)
    parsed: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
    for name, path in SETS.items():
        examples = load_test_examples(path)
        results, _ = asyncio.run(_parse_all(agent, [text for text, _, _ in examples]))
        parsed[name] = ([gold for _, gold, _ in examples], results)
    columns = ["threshold", "dev accuracy", "dev macro-F1", "dev in-scope fallback",
               "OOS recall", "pairs accuracy"]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for threshold in sorted(args.thresholds):
        pred = {n: [intent_at_threshold(p, threshold) for p in r] for n, (_, r) in parsed.items()}
        gold = {n: g for n, (g, _) in parsed.items()}
        print(
            f"| {threshold:.2f} | {scoring.accuracy(gold['dev'], pred['dev']):.1%} "
            f"| {scoring.macro_f1(gold['dev'], pred['dev']):.3f} "
            f"| {scoring.in_scope_fallback_rate(gold['dev'], pred['dev']):.1%} "
            f"| {scoring.out_of_scope_recall(gold['oos'], pred['oos']):.1%} "
            f"| {scoring.accuracy(gold['pairs'], pred['pairs']):.1%} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
