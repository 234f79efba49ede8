"""Use-cases for environments: the stages of the promotion pipeline, kept in order."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.kernel.errors import ValidationError
from ranchersync.kernel.validation import check_color, check_fields, clean_description, clean_name, name_key
from ranchersync.models import AppInstance, Environment
from ranchersync.storage import store
from ranchersync.storage.lookup import get_by_ref

# Distinct, colour-blind-friendly defaults (Okabe-Ito), handed out in pipeline order.
DEFAULT_COLORS = ("#009E73", "#0072B2", "#E69F00", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def list_environments(session: Session) -> list[Environment]:
    """Every environment, in pipeline order."""
    return list(session.scalars(select(Environment).order_by(Environment.position, Environment.id)))


def get_environment(session: Session, ref: int | str) -> Environment:
    """An environment by id or name."""
    return get_by_ref(session, Environment, ref)


def add_environment(
    session: Session,
    *,
    actor: Actor,
    name: str,
    description: str = "",
    color: str | None = None,
    position: int | None = None,
    protected: bool = False,
    pin_digests: bool | None = None,
) -> Environment:
    """Add an environment, at the end of the pipeline unless a position is given. `pin_digests` None: plans into
    it pin digests while it is protected."""
    require(actor, "manage_catalogue")

    def free_name() -> str:
        cleaned = clean_name(name, "environment")
        _ensure_unique_name(session, cleaned)
        return cleaned

    checked = check_fields(name=free_name, description=lambda: clean_description(description),
                           color=lambda: check_color(color) if color else None)
    env_name = checked["name"]
    existing = list_environments(session)
    env = Environment(
        name=env_name,
        description=checked["description"],
        color=checked["color"] or DEFAULT_COLORS[len(existing) % len(DEFAULT_COLORS)],
        position=len(existing),
        protected=protected,
        pin_digests=pin_digests,
    )
    session.add(env)
    _flush(session, env_name)
    if position is not None:
        _move(session, env, position)
    audit.record(session, actor, "environment.add", object_type="environment", object_id=env.id,
                 object_name=env.name, after=environment_snapshot(env))
    return env


def environment_snapshot(env: Environment) -> dict[str, object]:
    """What the audit log keeps of an environment."""
    return {"name": env.name, "description": env.description, "color": env.color, "position": env.position,
            "protected": env.protected, "requiredApprovals": env.required_approvals,
            "pinDigests": env.pin_digests}  # as stored: None is "follows protected", a change of its own


def pin_setting(stored: bool | None, shown: bool, wanted: bool, protected: bool) -> bool | None:
    """What a form that showed pinning as `shown` and now says `wanted` (with `protected`) passes to
    `update_environment`: None (unchanged) when the user left it, so an environment nobody set keeps following its
    protection (`Environment.pins_digests`), also when the same form protects it; else what is wanted, still None
    when following protection gives it."""
    if wanted == shown:
        return None
    return None if stored is None and wanted == protected else wanted


def update_environment(
    session: Session,
    ref: int | str,
    *,
    actor: Actor,
    name: str | None = None,
    description: str | None = None,
    color: str | None = None,
    protected: bool | None = None,
    position: int | None = None,
    required_approvals: int | None = None,
    pin_digests: bool | None = None,
) -> Environment:
    """Change an environment; None leaves a field as it is. Everything is checked before anything changes.

    `required_approvals` (0–5): how many people other than the requester approve a sync into it (four-eyes).
    `pin_digests`: whether a plan into it promotes ``repo:tag@sha256:…`` unless the sync says otherwise.
    """
    require(actor, "manage_catalogue")
    env = get_environment(session, ref)
    before = environment_snapshot(env)

    def new_name() -> str:
        if name is None:
            return env.name
        cleaned = clean_name(name, "environment")
        if name_key(cleaned) != name_key(env.name):
            _ensure_unique_name(session, cleaned)
        return cleaned

    def position_ok() -> None:
        if position is not None and position < 0:
            raise ValidationError("the position must be 0 (first) or more")

    def approvals_ok() -> None:
        if required_approvals is not None and (
            isinstance(required_approvals, bool) or not 0 <= required_approvals <= 5
        ):
            raise ValidationError("required approvals must be a whole number from 0 (none) to 5")

    checked = check_fields(
        name=new_name, description=lambda: clean_description(description) if description is not None else None,
        color=lambda: check_color(color) if color is not None else env.color,
        position=position_ok, required_approvals=approvals_ok,
    )
    env.name, env.color = checked["name"], checked["color"]
    if required_approvals is not None:
        env.required_approvals = required_approvals
    if description is not None:
        env.description = checked["description"]
    if protected is not None:
        env.protected = protected
    if pin_digests is not None:
        env.pin_digests = pin_digests
    _flush(session, env.name)
    if position is not None:
        _move(session, env, position)
    audit.record(session, actor, "environment.update", object_type="environment", object_id=env.id,
                 object_name=env.name, before=before, after=environment_snapshot(env))
    return env


def move_environment(session: Session, ref: int | str, position: int, *, actor: Actor) -> list[Environment]:
    """Put an environment at `position` (0 = first) and renumber the pipeline 0..n-1; returns the new order."""
    require(actor, "manage_catalogue")
    env = get_environment(session, ref)
    if position < 0:
        raise ValidationError("the position must be 0 (first) or more")
    before = env.position
    ordered = _move(session, env, position)
    audit.record(session, actor, "environment.move", object_type="environment", object_id=env.id,
                 object_name=env.name, before={"position": before}, after={"position": env.position},
                 detail=" → ".join(e.name for e in ordered))
    return ordered


def _move(session: Session, env: Environment, position: int) -> list[Environment]:
    ordered = [e for e in list_environments(session) if e.id != env.id]
    if position < 0:
        raise ValidationError("the position must be 0 (first) or more")
    ordered.insert(min(position, len(ordered)), env)
    for index, item in enumerate(ordered):
        item.position = index
    session.flush()
    return ordered


def remove_environment(
    session: Session, ref: int | str, *, actor: Actor, cascade: bool = False, expected: Collection[int] | None = None
) -> list[str]:
    """Remove an environment; refused while it has app instances unless `cascade` removes them too (exactly the
    `expected` ids, when a confirmation showed them)."""
    require(actor, "manage_catalogue")
    env = get_environment(session, ref)
    instances = list(session.scalars(select(AppInstance).where(AppInstance.environment_id == env.id)))
    names = ", ".join(sorted(i.name for i in instances))
    audit.record(session, actor, "environment.remove", object_type="environment", object_id=env.id,
                 object_name=env.name, before=environment_snapshot(env),
                 detail=f"with its app instances: {names}" if names else "")
    removed = store.remove_with_instances(
        session, env, instances, cascade=cascade, expected=expected,
        refusal=lambda count, names: (f"environment '{env.name}' still has {count} app instance(s) ({names}): "
                                      "remove or move them first, or confirm removing them with the environment"),
    )
    for index, item in enumerate(list_environments(session)):
        item.position = index
    session.flush()
    return removed


def _ensure_unique_name(session: Session, name: str) -> None:
    wanted = name_key(name)
    if any(name_key(existing) == wanted for existing in session.scalars(select(Environment.name))):
        raise ValidationError(f"an environment named '{name}' already exists (names are compared as they read)")


def _flush(session: Session, name: str) -> None:
    store.save(session, f"an environment named '{name}' already exists")
