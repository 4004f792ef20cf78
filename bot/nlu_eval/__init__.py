"""NLU evaluation: score a trained Rasa model on a labelled test file.

    from bot.nlu_eval import run_nlu_eval, format_report
    report = run_nlu_eval(Path("models"), Path("../shared/eval/bitext-dev/bitext_dev.yml"),
                          Path("results/nlu"))
    print(format_report(report))

The pure scoring functions live in `bot.nlu_eval.scoring`.
"""

from bot.nlu_eval.runner import NluReport, format_report, run_nlu_eval
from bot.nlu_eval.scoring import PRF

__all__ = ["PRF", "NluReport", "format_report", "run_nlu_eval"]
