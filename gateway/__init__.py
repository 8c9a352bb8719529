"""A GraphQL gateway over the Zylon and Make analytics APIs."""

import importlib.metadata


def version() -> str:
    """The installed distribution's version; "unknown" when run from a bare checkout."""
    try:
        return importlib.metadata.version("analytics-gateway")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
