"""Test-support servers and process harnesses for alert-explainer's tests.

Modules: ``clanker`` (inference API emulator), ``recorder`` (any HTTP destination),
``alertmanager`` (the real Alertmanager binary), ``service`` (the service under test as a
subprocess), plus the small shared pieces ``background``, ``records``, ``http`` and ``ports``.
"""
