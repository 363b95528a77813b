"""alert-explainer: explains Alertmanager notifications in plain language and forwards them."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("alert-explainer")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
