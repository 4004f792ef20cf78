"""`python -m bot.nlu_eval TEST_FILE [--model M] [--out DIR]` (same as `relaydesk eval nlu`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.nlu_eval.runner import format_report, run_nlu_eval

REPO_ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.nlu_eval", description=__doc__)
    parser.add_argument("test_file", type=Path, help="Rasa NLU YAML file with labelled examples")
    parser.add_argument(
        "--model", type=Path, default=REPO_ROOT / "models", help="model archive or directory"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "nlu")
    args = parser.parse_args(argv)
    report = run_nlu_eval(args.model, args.test_file, args.out)
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
