"""Which route a notification takes, and whether it is worth an inference call.

`POST /webhook/<name>` always uses route <name>. `POST /webhook` takes the first route, in
configuration order, whose conditions all hold: `receiver` (a fully anchored regex on the
receiver name), `status`, and `matchers` on the group and common labels. A route without
conditions matches everything, so a catch-all belongs last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alert_explainer.alertmanager import Notification
from alert_explainer.config import RouteSettings
from alert_explainer.matchers import Matcher, matches_all, parse_matcher

# Alertmanager sends the receiver name through regexp.QuoteMeta ("llm\.explainer" for
# "llm.explainer"); undo it so users can write the name as they configured it.
_QUOTED = re.compile(r"\\([\\.+*?()|\[\]{}^$])")


def receiver_name(quoted: str) -> str:
    """The receiver name as configured in Alertmanager."""
    return _QUOTED.sub(r"\1", quoted)


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    """A route with its conditions compiled once, at start-up."""

    settings: RouteSettings
    receiver: re.Pattern[str] | None
    matchers: tuple[Matcher, ...]
    explain: tuple[Matcher, ...]

    @classmethod
    def compile(cls, settings: RouteSettings) -> CompiledRoute:
        """Compile a route's regular expressions and matchers."""
        return cls(
            settings,
            re.compile(settings.receiver) if settings.receiver is not None else None,
            tuple(parse_matcher(m) for m in settings.matchers),
            tuple(parse_matcher(m) for m in settings.explain),
        )

    def accepts(self, notification: Notification) -> bool:
        """Whether POST /webhook should send this notification along this route."""
        if self.receiver and not self.receiver.fullmatch(receiver_name(notification.receiver)):
            return False
        if self.settings.status and notification.status != self.settings.status:
            return False
        labels = {**notification.common_labels, **notification.group_labels}
        return matches_all(self.matchers, labels)

    def worth_explaining(self, notification: Notification) -> bool:
        """Whether any alert of the notification matches every `explain` matcher."""
        if not self.explain:
            return True
        return any(matches_all(self.explain, alert.labels) for alert in notification.alerts)


class Router:
    """All routes, compiled, in configuration order."""

    def __init__(self, routes: list[RouteSettings]) -> None:
        self._routes = [CompiledRoute.compile(r) for r in routes]
        self._by_name = {r.settings.name: r for r in self._routes}

    def named(self, name: str) -> CompiledRoute | None:
        """The route called `name` (for POST /webhook/<name>)."""
        return self._by_name.get(name)

    def select(self, notification: Notification) -> CompiledRoute | None:
        """The first route whose conditions accept the notification (for POST /webhook)."""
        return next((r for r in self._routes if r.accepts(notification)), None)

    @property
    def names(self) -> list[str]:
        """Route names in configuration order."""
        return list(self._by_name)
