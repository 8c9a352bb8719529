"""Simulated Zylon and Make analytics APIs with generated demo data.

Depends on nothing else in `gateway`: it can be read, run and tested on its own.
"""

from gateway.sandbox.app import create_sandbox_app
from gateway.sandbox.data import generate
from gateway.sandbox.faults import FaultInjector, FaultRule, LoggedRequest, RequestLog
from gateway.sandbox.model import SandboxData
from gateway.sandbox.server import SandboxServer, config_toml, run_sandbox
from gateway.sandbox.state import Quota, SandboxState

__all__ = [
    "FaultInjector",
    "FaultRule",
    "LoggedRequest",
    "Quota",
    "RequestLog",
    "SandboxData",
    "SandboxServer",
    "SandboxState",
    "config_toml",
    "create_sandbox_app",
    "generate",
    "run_sandbox",
]
