"""The chat messages and request metadata the inference tests ask backends to explain."""

from alert_explainer.prompts import ChatMessage

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Explain X.")]
METADATA = {"route": "default", "receiver": "team", "status": "firing", "alert_count": 1}
