"""The catalogue: what the service knows in advance about the standard alerts.

For each of the kube-prometheus alerts (kubernetes-mixin, node-exporter, Prometheus,
Alertmanager, etcd) an entry says what it means, what usually causes it, what to check
first, and which queries find the decisive fact. It feeds three places: the prompt
(reference notes beside the alert data), the evidence (its recipes), and the message
when no explanation can be had (the notes, marked as not written by a model).

builtin   the shipped entries: one YAML file per family beside this module
index     Catalogue: the entries in effect, which one an alert gets
notes     Notes: an entry's texts as shown, its checks filled from the labels
"""

from alert_explainer.catalogue.index import Catalogue, shipped
from alert_explainer.catalogue.notes import Notes

__all__ = ["Catalogue", "Notes", "shipped"]
