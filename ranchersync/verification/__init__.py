"""Verification after a rollout: metric gates (a safe success expression over a Prometheus query), the soak that
watches the pods for restarts, and the promotion policy (how long a version ran, gated, in the source first)."""

# What the package offers: its modules, imported by name (`from ranchersync.verification import expressions`).
__all__ = ["expressions", "gates", "prometheus", "run", "soak", "trial"]
