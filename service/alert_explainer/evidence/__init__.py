"""Evidence: the facts an SRE would look up first, gathered before the one paid call.

gather      Gatherer.gather(notification, now) -> Evidence, under one deadline
model       Evidence, EvidenceItem(source, title, lines): what prompts and people see
expression  the alert's own expression (from generatorURL), its series summarised
recipes     extra queries chosen by the alert, templated with its labels (sandboxed)
history     how often the alert fired in the last 7 days (ALERTS)
cofiring    other alerts firing in the same place (Alertmanager API v2)
client      the Prometheus-compatible query API and Alertmanager, size-capped
queries     one gathering's deadline, concurrency limit and metrics
shared      answers to a query many notifications ask alike, sent once for all
external    the labels Prometheus adds when sending alerts, never pinned into queries
promql      the expression parsed, printed with its labels pinned, its threshold
summary     series as one line each: now, min, max, trend, crossing, sparkline
units       units from metric names, and numbers as people read them
"""

from alert_explainer.evidence.gather import Gatherer
from alert_explainer.evidence.model import UNAVAILABLE, Evidence, EvidenceItem
from alert_explainer.evidence.recipes import MatchedRecipes, RecipeSource, check_recipe

__all__ = [
    "UNAVAILABLE",
    "Evidence",
    "EvidenceItem",
    "Gatherer",
    "MatchedRecipes",
    "RecipeSource",
    "check_recipe",
]
