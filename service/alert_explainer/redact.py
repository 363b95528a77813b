"""Redaction: what leaves for the inference API never carries a credential found in alert text.

Alert labels and annotations are written by whoever writes alerting rules and by the
exporters they scrape, so a connection string with a password, a bearer token in a probe
URL or a private key pasted into a description all happen. Before a notification is
rendered into a prompt, `Redactor.prepare` returns a copy in which

* label and annotation names on the `deny` list are dropped (or, with an `allow` list, all
  names but those and alertname/severity are dropped),
* every match of a rule becomes `[REDACTED:<rule>]` (the built-in rules below, then the
  configured ones), and
* values longer than `max_value_length` are cut, ending in `…[truncated <n> chars]`.

The original notification is left alone: its identity, fingerprints and raw payload are
what deduplication and the destinations use. The rules are documented in docs/security.md.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from alert_explainer.alertmanager import Alert, Notification
from alert_explainer.config import RedactionSettings

# Names kept under an allow list: without them nothing can say which alert this is.
ALWAYS_KEPT = frozenset({"alertname", "severity"})

# How far past the cut values are still searched, so a secret that begins just before the
# cut is recognised whole and replaced instead of leaving its first characters behind.
_SECRET_SPAN = 4096

# A value already replaced is never matched again, so redacting twice changes nothing.
_NOT_REDACTED = r"(?!\[REDACTED:)"

# Label names, severities, alert names and the like repeat from one notification to the
# next: short values are redacted once and remembered, in a memo emptied when full.
_MEMO_ENTRIES = 4096
_MEMO_VALUE_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Rule:
    """One redaction: matches of `pattern` become `[REDACTED:<name>]`.

    When the pattern has a group named `value`, only that group is replaced, so the key in
    `password=hunter2` or the user in `https://user:pw@host` stays readable. `accept`, when
    set, can veto a match after a closer look (e.g. a Basic credential must decode).
    `hints`, when given, are lower-case strings of which every match contains one (after
    casefolding); text without any is skipped without running the pattern, which keeps
    large alert groups cheap.
    """

    name: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None
    hints: tuple[str, ...] = ()

    @property
    def marker(self) -> str:
        """The text a match is replaced with."""
        return f"[REDACTED:{self.name}]"

    def apply(self, text: str, counts: Counter[str]) -> str:
        """`text` with every accepted match replaced; each replacement counted in `counts`."""
        return self.pattern.sub(lambda match: self._replace(match, counts), text)

    def _replace(self, match: re.Match[str], counts: Counter[str]) -> str:
        whole = match.group(0)
        has_value = "value" in self.pattern.groupindex
        secret = match.group("value") if has_value else whole
        if not secret or secret.startswith("[REDACTED:"):
            return whole  # empty matches of a configured rule, or text already redacted
        if self.accept is not None and not self.accept(secret):
            return whole
        counts[self.name] += 1
        if not has_value:
            return self.marker
        start, end = match.span("value")
        offset = match.start()
        inner_start, inner_end = start - offset, end - offset
        # A quoted value keeps its quotes, so `"password": "x"` still reads as JSON.
        if len(secret) >= 2 and secret[0] == secret[-1] and secret[0] in "\"'":
            inner_start, inner_end = inner_start + 1, inner_end - 1
        return whole[:inner_start] + self.marker + whole[inner_end:]


def _decodes_to_credentials(value: str) -> bool:
    """Whether `value` is base64 of `user:password`, as in an HTTP Basic credential."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    text = decoded.decode("utf-8", errors="replace")
    return ":" in text and text.isprintable() and "\ufffd" not in text


# Key names whose value is a credential: `db_password=...`, `"client_secret": "..."`.
_CREDENTIAL_KEY = (
    r"(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|secret[_-]?key|client[_-]?secret|credentials?)"
)
# Every credential key above contains one of these.
_CREDENTIAL_HINTS = (
    *("password", "passwd", "pwd", "passphrase", "secret", "token", "credential"),
    *(f"{word}{sep}key" for word in ("api", "access", "private") for sep in ("", "_", "-")),
)
# A value after `key=` / `key: `: quoted (escapes allowed) or up to a delimiter.
_PAIR_VALUE = (
    rf'(?P<value>"{_NOT_REDACTED}(?:[^"\\\n]|\\.)+"'
    rf"|'{_NOT_REDACTED}[^'\n]+'"
    rf"|{_NOT_REDACTED}[^\s\"'&,;<>]+)"
)
_TOKEN68 = r"[A-Za-z0-9\-._~+/]+=*"


def _rule(
    name: str,
    pattern: str,
    flags: int = 0,
    *,
    hints: tuple[str, ...],
    accept: Callable[[str], bool] | None = None,
) -> Rule:
    return Rule(name, re.compile(pattern, flags), accept, hints)


# Most specific first: a GitHub token after `token=` is reported as github_token, and the
# generic secret_pair rule then sees `[REDACTED:...]` and leaves it.
BUILTIN_RULES: tuple[Rule, ...] = (
    _rule(
        "private_key",
        # PEM blocks, also inside JSON (a GCP service-account key's "private_key" field
        # holds one with literal \n); a block cut off before its END line is redacted to
        # the end of the text.
        r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY-----"
        r"[\s\S]*?(?:-----END[A-Z0-9 ]{0,40} PRIVATE KEY-----|\Z)",
        hints=("private key-----",),
    ),
    _rule(
        "url_credentials",
        # scheme://user:password@host; the user stays readable.
        r"\b[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/?#@:\"'<>]*:"
        rf"(?P<value>{_NOT_REDACTED}[^\s/?#@\"'<>]+)@",
        hints=("://",),
    ),
    _rule(
        "slack_webhook",
        r"\bhooks\.slack\.com/(?:services|workflows|triggers)/(?P<value>[A-Za-z0-9_/-]{8,})",
        re.IGNORECASE,
        hints=("hooks.slack.com/",),
    ),
    _rule(
        "bearer_token",
        # After "Authorization:" any credential; elsewhere only what looks like a token
        # (8+ characters with a digit or punctuation), so "bearer authentication" stays.
        r"(?:\bauthorization[\"']?\s*[:=]\s*[\"']?bearer\s+"
        r"|\bbearer\s+(?=[A-Za-z]*[0-9\-._~+/])(?=[A-Za-z0-9\-._~+/]{8}))"
        rf"(?P<value>{_NOT_REDACTED}{_TOKEN68})",
        re.IGNORECASE,
        hints=("bearer",),
    ),
    _rule(
        "basic_auth",
        r"\bauthorization[\"']?\s*[:=]\s*[\"']?basic\s+"
        rf"(?P<value>{_NOT_REDACTED}[A-Za-z0-9+/]+={{0,2}})",
        re.IGNORECASE,
        hints=("basic",),
    ),
    _rule(
        "basic_auth",
        # Outside a header only base64 of user:password, so "basic authentication" stays.
        rf"\bbasic\s+(?P<value>{_NOT_REDACTED}[A-Za-z0-9+/]{{8,}}={{0,2}})(?![A-Za-z0-9+/=])",
        re.IGNORECASE,
        hints=("basic",),
        accept=_decodes_to_credentials,
    ),
    _rule(
        "jwt",
        r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*",
        hints=("eyj",),
    ),
    _rule(
        "github_token",
        r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_\w{20,255})",
        hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _rule(
        "slack_token",
        r"(?<![A-Za-z0-9])(?:xox[abposre]|xapp)-[A-Za-z0-9-]{10,}",
        hints=("xox", "xapp-"),
    ),
    _rule(
        "aws_access_key_id",
        r"(?<![A-Z0-9])A(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}(?![A-Z0-9])",
        hints=("akia", "asia", "abia", "acca"),
    ),
    _rule(
        "aws_secret_access_key",
        # Only where labelled: 40 base64 characters after an aws_secret_access_key key.
        r"aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?"
        rf"(?P<value>{_NOT_REDACTED}[A-Za-z0-9/+=]{{40}})(?![A-Za-z0-9/+=])",
        re.IGNORECASE,
        hints=("awssecret", "aws_secret"),
    ),
    _rule(
        "gcp_api_key",
        r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])",
        hints=("aiza",),
    ),
    _rule(
        "secret_pair",
        # key=value, key: value, "key": "value" where the key names a credential.
        rf"{_CREDENTIAL_KEY}[\"']?\s*[:=]\s*{_PAIR_VALUE}",
        re.IGNORECASE,
        hints=_CREDENTIAL_HINTS,
    ),
)

# A label or annotation whose name says its value is a credential is replaced whole.
NAMED_CREDENTIAL_RULE = "secret_label"
_NAMED_CREDENTIAL_MARKER = f"[REDACTED:{NAMED_CREDENTIAL_RULE}]"
_CREDENTIAL_NAME = re.compile(
    r"(?:^|[_.-])(?:password|passwd|pwd|passphrase|api[_-]?key|apikey|private[_-]?key"
    r"|secret[_-]?key|secret[_-]?access[_-]?key|client[_-]?secret|access[_-]?token"
    r"|auth[_-]?token|bearer[_-]?token|refresh[_-]?token|credentials?)$",
    re.IGNORECASE,
)


def truncate(value: str, limit: int, *, cut: int = 0) -> str:
    """`value` in at most `limit` characters, ending in `…[truncated <n> chars]` when cut.

    `cut` counts characters already removed before this call, so the marker states how
    much of the original is missing. A value that fits is returned unchanged, so
    truncating twice is the same as once.
    """
    if len(value) <= limit and cut == 0:
        return value
    keep = min(len(value), limit)
    while True:  # the marker's own length depends on how much it says is missing
        marker = f"…[truncated {len(value) - keep + cut} chars]"
        if keep + len(marker) <= limit:
            return value[:keep] + marker
        if keep == 0:  # a limit shorter than the marker itself
            return marker[:limit]
        keep = max(0, limit - len(marker))


class Redactor:
    """Prepares notifications for the prompt: filtered names, redacted and truncated values."""

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        max_value_length: int,
        deny: Iterable[str] = (),
        allow: Iterable[str] | None = None,
        secret_names: bool = True,
    ) -> None:
        self.rules = tuple(rules)
        self.max_value_length = max_value_length
        self._hints = tuple(sorted({h for r in self.rules for h in r.hints}))
        # One scan says whether any hint occurs at all, which for most values it does not.
        self._any_hint = re.compile("|".join(map(re.escape, self._hints))) if self._hints else None
        self._always = any(not r.hints for r in self.rules)
        self._memo: dict[str, tuple[str, Counter[str] | None]] = {}
        self._deny = frozenset(deny)
        self._allow = None if allow is None else frozenset(allow) | ALWAYS_KEPT
        self._secret_names = secret_names

    @classmethod
    def from_settings(cls, settings: RedactionSettings, max_value_length: int) -> Redactor:
        """The built-in rules (unless `builtin: false`), then the configured ones, in order."""
        configured = [Rule(r.name, re.compile(r.regex)) for r in settings.rules]
        builtin = list(BUILTIN_RULES) if settings.builtin else []
        return cls(
            [*builtin, *configured],
            max_value_length=max_value_length,
            deny=settings.deny,
            allow=settings.allow,
            secret_names=settings.builtin,
        )

    @property
    def rule_names(self) -> list[str]:
        """Every rule name a count can carry, for creating metric series at zero."""
        names = {r.name for r in self.rules}
        if self._secret_names:
            names.add(NAMED_CREDENTIAL_RULE)
        return sorted(names)

    def redact(self, text: str, counts: Counter[str] | None = None) -> str:
        """`text` with every rule applied (no truncation); replacements added to `counts`."""
        folded = text.casefold()
        if not self._always and (self._any_hint is None or not self._any_hint.search(folded)):
            return text  # the common case: nothing that could be a secret
        counts = Counter() if counts is None else counts
        present = {hint for hint in self._hints if hint in folded}
        if not present and not self._always:
            return text
        for rule in self.rules:
            if not rule.hints or not present.isdisjoint(rule.hints):
                text = rule.apply(text, counts)
        return text

    def clean(self, text: str, counts: Counter[str] | None = None) -> str:
        """`text` redacted, then cut to `max_value_length`."""
        window = text[: self.max_value_length + _SECRET_SPAN]
        redacted = self.redact(window, counts)
        return truncate(redacted, self.max_value_length, cut=len(text) - len(window))

    def remembered(self, value: str) -> tuple[str, Counter[str] | None] | None:
        """What `clean` made of `value` before, and its counts (None: nothing replaced)."""
        return self._memo.get(value)

    def remember(self, value: str, result: tuple[str, Counter[str] | None]) -> None:
        """Keep what `clean` made of a short `value`; the counts must not change later."""
        if len(value) <= _MEMO_VALUE_LENGTH:
            if len(self._memo) >= _MEMO_ENTRIES:
                self._memo.clear()
            self._memo[value] = result

    def is_secret_name(self, name: str) -> bool:
        """Whether a label or annotation called `name` holds a credential by its very name."""
        return self._secret_names and _CREDENTIAL_NAME.search(name) is not None

    def keeps(self, name: str) -> bool:
        """Whether a label or annotation called `name` is sent at all."""
        if name in self._deny:
            return False
        return self._allow is None or name in self._allow

    def prepare(self, notification: Notification) -> tuple[Notification, Counter[str]]:
        """A copy of `notification` fit for the prompt, and how many replacements each rule made.

        The copy has the same alerts in the same order, with the same status, times and
        fingerprints; only text changes. Its `raw` is still the original payload: sinks
        that forward the payload use the original notification, never this copy.
        """
        job = _Job(self)
        alerts = [
            _updated(
                alert,
                labels=job.labels(alert.labels),
                annotations=job.labels(alert.annotations),
                generator_url=job.text(alert.generator_url),
            )
            for alert in notification.alerts
        ]
        copy = _updated(
            notification,
            alerts=alerts,
            group_labels=job.labels(notification.group_labels),
            common_labels=job.labels(notification.common_labels),
            common_annotations=job.labels(notification.common_annotations),
            receiver=job.text(notification.receiver),
            external_url=job.text(notification.external_url),
            group_key=job.text(notification.group_key),
        )
        return copy, job.counts


_Model = TypeVar("_Model", Alert, Notification)


def _updated(model: _Model, **fields: object) -> _Model:
    """`model` with `fields` replaced; the model itself when none differs (they are frozen).

    Most alerts carry no secret, and copying a pydantic model costs more than comparing.
    """
    if all(getattr(model, name) == value for name, value in fields.items()):
        return model
    return model.model_copy(update=fields)


class _Job:
    """One `prepare` call: the counts, and caches because big groups repeat names and values."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self.counts: Counter[str] = Counter()
        self._found: Counter[str] = Counter()
        self._values: dict[str, tuple[str, Counter[str] | None]] = {}
        # Per label name: the name to send and whether its value is a credential, or None
        # when the name is not sent at all.
        self._names: dict[str, tuple[str, bool] | None] = {}

    def text(self, value: str) -> str:
        cached = self._values.get(value)
        if cached is None:
            cached = self._redactor.remembered(value)
            if cached is None:
                found = self._found
                found.clear()  # one Counter for every value: most find nothing to count
                cached = (self._redactor.clean(value, found), Counter(found) if found else None)
                self._redactor.remember(value, cached)
            self._values[value] = cached
        if cached[1] is not None:
            self.counts.update(cached[1])
        return cached[0]

    def labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        kept: dict[str, str] = {}
        for name, value in labels.items():
            if name in self._names:
                decision = self._names[name]
            else:
                decision = self._decide(name)
                self._names[name] = decision
            if decision is None:
                continue
            shown, credential = decision
            if credential and value and value != _NAMED_CREDENTIAL_MARKER:
                self.counts[NAMED_CREDENTIAL_RULE] += 1
                kept[shown] = _NAMED_CREDENTIAL_MARKER
            else:
                kept[shown] = self.text(value)
        return kept

    def _decide(self, name: str) -> tuple[str, bool] | None:
        redactor = self._redactor
        if not redactor.keeps(name):
            return None
        return self.text(name), redactor.is_secret_name(name)
