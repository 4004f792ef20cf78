"""Run a trained Rasa model over a labelled NLU test file and score it.

`run_nlu_eval` loads the model once, parses every test utterance through the same processor the
server uses, scores the result with `bot.nlu_eval.scoring`, and writes a JSON report and a
confusion-matrix PNG to ``out_dir``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.nlu_eval import scoring
from bot.nlu_eval.scoring import PRF

ORDER_ID = "order_id"
REPORT_JSON = "nlu_report.json"
CONFUSION_PNG = "confusion_matrix.png"


@dataclass
class Prediction:
    text: str
    gold_intent: str
    intent: str
    confidence: float
    gold_entities: list[dict[str, Any]]
    entities: list[dict[str, Any]]


@dataclass
class NluReport:
    """Everything `run_nlu_eval` measured. Rates are fractions in [0, 1]."""

    model: str
    test_file: str
    n_utterances: int
    intent_accuracy: float
    macro_f1: float
    per_intent: dict[str, PRF]
    top_confusions: list[tuple[str, str, int]]
    #: Share of out_of_scope-labelled utterances predicted out_of_scope or nlu_fallback.
    oos_recall: float | None
    #: Share of in-scope utterances predicted nlu_fallback.
    in_scope_fallback_rate: float | None
    #: Share of in-scope utterances predicted nlu_fallback or out_of_scope.
    in_scope_rejection_rate: float | None
    #: Exact-value scores per entity type found in the test file or the predictions.
    entities: dict[str, PRF]
    #: Entity types the model's domain declares (empty for an NLU-only model).
    model_entities: list[str]
    #: Test intents the model cannot predict -> number of utterances (all counted as errors).
    unknown_intents: dict[str, int]
    latency_ms_p50: float
    latency_ms_p99: float
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: Per-message parse times (not written to the JSON report).
    raw_latencies_ms: list[float] = field(default_factory=list, repr=False)
    json_path: Path | None = None
    confusion_png: Path | None = None

    @property
    def order_id(self) -> PRF | None:
        return self.entities.get(ORDER_ID)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("raw_latencies_ms")
        data["top_confusions"] = [
            {"gold": g, "predicted": p, "count": n} for g, p, n in self.top_confusions
        ]
        data["json_path"] = str(self.json_path) if self.json_path else None
        data["confusion_png"] = str(self.confusion_png) if self.confusion_png else None
        return data


def _resolve_model(model_path: Path) -> Path:
    """Accept a model archive or a directory of archives (newest wins)."""
    model_path = Path(model_path)
    if model_path.is_dir():
        archives = sorted(model_path.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        if not archives:
            raise FileNotFoundError(f"no trained model (*.tar.gz) in {model_path}")
        return archives[-1]
    if not model_path.exists():
        raise FileNotFoundError(f"model not found: {model_path}")
    return model_path


def load_test_examples(test_file: Path) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(text, gold intent, gold entities) for every example in a Rasa NLU YAML file."""
    from rasa.shared.nlu.training_data.loading import load_data

    test_file = Path(test_file)
    if not test_file.exists():
        raise FileNotFoundError(f"test file not found: {test_file}")
    data = load_data(str(test_file))
    examples = []
    for message in data.intent_examples:
        entities = [
            {"entity": e["entity"], "value": e["value"], "start": e["start"], "end": e["end"]}
            for e in message.get("entities") or []
        ]
        examples.append((message.get("text"), message.get("intent"), entities))
    if not examples:
        raise ValueError(f"{test_file} holds no labelled NLU examples")
    return examples


def _known_entities(agent: Any) -> list[str]:
    domain = getattr(agent, "domain", None)
    return sorted(domain.entities) if domain is not None else []


def _known_intents(agent: Any) -> set[str]:
    """Intents the model's domain declares; empty for an NLU-only model (check skipped)."""
    from rasa.shared.core.constants import DEFAULT_INTENTS

    domain = getattr(agent, "domain", None)
    intents = set(domain.intents) if domain is not None else set()
    return intents if intents - set(DEFAULT_INTENTS) else set()


async def _parse_all(agent: Any, texts: list[str]) -> tuple[list[dict[str, Any]], list[float]]:
    results, latencies = [], []
    if texts:  # warm-up: the first parse of a freshly loaded model builds TensorFlow graphs
        await agent.parse_message(texts[0])
    for text in texts:
        start = time.perf_counter()
        results.append(await agent.parse_message(text))
        latencies.append((time.perf_counter() - start) * 1000.0)
    return results, latencies


def load_agent(model_path: Path) -> Any:
    """Load a trained model into a Rasa Agent (NLU graph + domain)."""
    import structlog
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    if not structlog.is_configured():
        # Unconfigured, structlog prints Rasa's per-message debug events to stdout.
        configure_structlog(logging.WARNING)
    return Agent.load(str(_resolve_model(model_path)))


def evaluate_predictions(
    predictions: list[Prediction],
    known_intents: set[str],
    latencies_ms: list[float],
    model: str = "",
    test_file: str = "",
    model_entities: list[str] | None = None,
) -> NluReport:
    """Score parsed predictions (pure: no model, no files)."""
    gold = [p.gold_intent for p in predictions]
    pred = [p.intent for p in predictions]
    gold_ents = [p.gold_entities for p in predictions]
    pred_ents = [p.entities for p in predictions]
    entity_types = sorted(
        {e["entity"] for ents in gold_ents + pred_ents for e in ents if e.get("entity")}
    )
    errors = [
        {
            "text": p.text,
            "gold": p.gold_intent,
            "predicted": p.intent,
            "confidence": round(p.confidence, 4),
        }
        for p in predictions
        if p.gold_intent != p.intent
    ]
    return NluReport(
        model=model,
        test_file=test_file,
        n_utterances=len(predictions),
        intent_accuracy=scoring.accuracy(gold, pred),
        macro_f1=scoring.macro_f1(gold, pred),
        per_intent=scoring.per_label_prf(gold, pred, sorted(set(gold))),
        top_confusions=scoring.confused_pairs(gold, pred, top=10),
        oos_recall=scoring.out_of_scope_recall(gold, pred),
        in_scope_fallback_rate=scoring.in_scope_fallback_rate(gold, pred),
        in_scope_rejection_rate=scoring.in_scope_rejection_rate(gold, pred),
        entities={t: scoring.entity_prf(gold_ents, pred_ents, t) for t in entity_types},
        model_entities=list(model_entities or []),
        unknown_intents=scoring.unknown_intents(gold, known_intents) if known_intents else {},
        latency_ms_p50=scoring.percentile(latencies_ms, 50),
        latency_ms_p99=scoring.percentile(latencies_ms, 99),
        errors=errors,
        raw_latencies_ms=list(latencies_ms),
    )


def plot_confusion_matrix(
    gold: list[str], pred: list[str], path: Path, title: str = "Intent confusion"
) -> Path:
    """Write a confusion-matrix PNG (rows: gold, columns: predicted)."""
    import warnings

    with warnings.catch_warnings():  # matplotlib 3.7 + new pyparsing print deprecation noise
        warnings.simplefilter("ignore")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

    labels, matrix = scoring.confusion_matrix(gold, pred)
    size = max(6.0, 0.32 * len(labels) + 3)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    peak = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                colour = "white" if value > peak / 2 else "black"
                ax.text(j, i, str(value), ha="center", va="center", fontsize=6, color=colour)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_nlu_eval(model_path: Path, test_file: Path, out_dir: Path, agent: Any = None) -> NluReport:
    """Evaluate a trained model on a Rasa NLU YAML test file.

    Args:
        model_path: a model archive (``models/x.tar.gz``) or a directory of them (newest used).
        test_file: labelled utterances in Rasa NLU YAML format.
        out_dir: where ``nlu_report.json`` and ``confusion_matrix.png`` are written.
        agent: an already loaded Rasa Agent to reuse (then ``model_path`` is only reported).

    Returns:
        The `NluReport`; print it with `format_report`.
    """
    examples = load_test_examples(Path(test_file))
    if agent is None:
        model_path = _resolve_model(Path(model_path))
        agent = load_agent(model_path)
    parsed, latencies = asyncio.run(_parse_all(agent, [text for text, _, _ in examples]))
    predictions = [
        Prediction(
            text=text,
            gold_intent=gold_intent,
            intent=(result.get("intent") or {}).get("name") or scoring.FALLBACK,
            confidence=float((result.get("intent") or {}).get("confidence") or 0.0),
            gold_entities=gold_entities,
            entities=[
                {"entity": e.get("entity"), "value": e.get("value")}
                for e in result.get("entities") or []
            ],
        )
        for (text, gold_intent, gold_entities), result in zip(examples, parsed, strict=True)
    ]
    report = evaluate_predictions(
        predictions,
        _known_intents(agent),
        latencies,
        str(model_path),
        str(test_file),
        _known_entities(agent),
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report.confusion_png = plot_confusion_matrix(
        [p.gold_intent for p in predictions],
        [p.intent for p in predictions],
        out_dir / CONFUSION_PNG,
        title=f"{Path(test_file).name}: accuracy {report.intent_accuracy:.1%}",
    )
    report.json_path = out_dir / REPORT_JSON
    report.json_path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return report


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def format_report(report: NluReport) -> str:
    """A human-readable summary of an `NluReport` for the terminal."""
    lines = [
        f"NLU evaluation of {report.model}",
        f"  test file           {report.test_file} ({report.n_utterances} utterances)",
        f"  intent accuracy     {_pct(report.intent_accuracy)}",
        f"  macro-F1            {report.macro_f1:.3f}",
        f"  out-of-scope recall {_pct(report.oos_recall)}  (out_of_scope or nlu_fallback)",
        f"  in-scope fallback   {_pct(report.in_scope_fallback_rate)}"
        f"  (rejected incl. out_of_scope: {_pct(report.in_scope_rejection_rate)})",
        f"  parse latency       p50 {report.latency_ms_p50:.1f} ms, "
        f"p99 {report.latency_ms_p99:.1f} ms",
    ]
    known = {*report.model_entities, ORDER_ID}
    scored = {
        name: s
        for name, s in report.entities.items()
        if s.support and (s.predicted or name in known)
    }
    if scored:
        lines.append("  entities (exact value)   precision  recall     F1  gold  predicted")
        for name, s in scored.items():
            lines.append(
                f"    {name:<22} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f} "
                f"{s.support:5d} {s.predicted:10d}"
            )
    unscored = sorted(set(report.entities) - set(scored))
    if unscored:
        counts = ", ".join(
            f"{n} ({report.entities[n].support} gold/{report.entities[n].predicted} predicted)"
            for n in unscored
        )
        lines.append(
            f"  entities the model does not extract or the file does not annotate: {counts}"
        )
    if report.unknown_intents:
        unknown = ", ".join(f"{k} ({v})" for k, v in report.unknown_intents.items())
        lines.append(f"  UNKNOWN to the model (counted as errors): {unknown}")
    if report.top_confusions:
        lines.append("  most confused (gold -> predicted: count)")
        for g, p, n in report.top_confusions:
            lines.append(f"    {g} -> {p}: {n}")
    weakest = sorted(report.per_intent.items(), key=lambda kv: kv[1].f1)[:5]
    if weakest:
        lines.append("  weakest intents (F1)")
        for name, s in weakest:
            lines.append(f"    {name:<26} {s.f1:.3f}  (P {s.precision:.2f}, R {s.recall:.2f})")
    if report.json_path:
        lines.append(f"  report              {report.json_path}")
    if report.confusion_png:
        lines.append(f"  confusion matrix    {report.confusion_png}")
    return "\n".join(lines)
