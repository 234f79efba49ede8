"""The HTTP API for pipelines (issue 21): the Starlette application (app), problem details (problems), the OpenAPI
document made from the payload types (spec, typed), calls per token (limits), Idempotency-Key (idempotency) and the
stand-alone server (server)."""

# What the package offers: its modules, imported by name (`from ranchersync.api import app`).
__all__ = ["app", "idempotency", "limits", "problems", "server", "spec", "typed"]
