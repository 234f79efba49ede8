"""Write use-cases for the screens: one database session per action, the core call, then the caches cleared.

Every action returns an Outcome instead of raising: RancherSyncError is caught here, once; the error already knows
its title and hint (set where the core classified it). Nothing here draws on the page.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ranchersync import environments as env_cases
from ranchersync import instances as instance_cases
from ranchersync import sites as site_cases
from ranchersync import sync
from ranchersync.context import AppContext
from ranchersync.errors import RancherSyncError, ValidationError
from ranchersync.images import RetagMode
from ranchersync.inventory import EnvironmentRef, Service
from ranchersync.rancher import ConnectionInfo
from ranchersync.sync import ProgressEvent, SyncOptions, SyncPlan, TargetChoice
from ranchersync.validation import clean_name
from ui import deps, queries


@dataclass(frozen=True)
class Outcome:
    """What an action did: `ok`, a sentence, what to do about a failure, and any warnings."""

    ok: bool
    message: str
    title: str = ""
    hint: str = ""
    warnings: tuple[str, ...] = ()

    @classmethod
    def done(cls, message: str, warnings: tuple[str, ...] = ()) -> Outcome:
        """A success."""
        return cls(True, message, warnings=warnings)

    @classmethod
    def failed(cls, error: RancherSyncError) -> Outcome:
        """A failure, shown as the error shows itself: its title, its message and its hint."""
        return cls(False, str(error), title=error.title, hint=error.hint)


def _attempt(work: Callable[[], Outcome]) -> Outcome:
    try:
        return work()
    except RancherSyncError as error:
        return Outcome.failed(error)
    finally:
        queries.clear_stored()  # also after a failure: a test records its error on the site


def _user(info: ConnectionInfo | None) -> str:
    return (info.user_display_name or info.user_id) if info is not None else ""


def _connected(info: ConnectionInfo) -> str:
    who = _user(info)
    signed = f"signed in as {who}" if who else "the token works"
    return f"{signed} ({round(info.latency_ms)} ms)"


# ---- sites -----------------------------------------------------------------------------------------------------


def add_site(
    *,
    name: str,
    url: str,
    token: str,
    ca_bundle: str | bytes | None = None,
    insecure: bool = False,
    allow_http: bool = False,
) -> Outcome:
    """Check the input, test the connection, and store the site only if the test passed."""

    def work() -> Outcome:
        site_name = clean_name(name, "site")
        if any(s.name.lower() == site_name.lower() for s in queries.sites()):
            raise ValidationError(f"a site named '{site_name}' already exists")
        connection = site_cases.make_connection(
            url, token, ca_bundle=ca_bundle, insecure=insecure, allow_http=allow_http
        )
        info = site_cases.check_connection(connection, deps.client_factory())  # nothing is stored when this fails
        ctx = deps.get_context()
        with ctx.session() as session:
            site_cases.add_site(
                session, ctx.cipher, name=site_name, connection=connection, allow_http=allow_http, info=info
            )
        return Outcome.done(f"Site '{site_name}' added: {_connected(info)}.", info.warnings)

    return _attempt(work)


def update_site(
    site_id: int,
    *,
    name: str,
    url: str,
    token: str | None,
    ca_bundle: str | bytes | None,
    clear_ca_bundle: bool,
    insecure: bool,
    allow_http: bool,
) -> Outcome:
    """Save a site's changes (an empty token keeps the stored one), then test the connection again."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            site = site_cases.update_site(
                session,
                ctx.cipher,
                site_id,
                name=name,
                url=url,
                token=token or None,
                ca_bundle=ca_bundle,
                clear_ca_bundle=clear_ca_bundle,
                insecure=insecure,
                allow_http=allow_http,
            )
            saved_name, active = site.name, site.active
        if not active:
            return Outcome.done(f"Site '{saved_name}' saved (deactivated, so not tested).")
        # A second unit of work: the save is committed before the Rancher call, so no write lock is held while
        # a slow or unreachable server keeps us waiting.
        with ctx.session() as session:
            result = site_cases.test_site(session, ctx.cipher, site_id, deps.client_factory())
        if not result.success or result.info is None:
            problem = f"The connection test failed: {result.message} {_hint(result)}"
            return Outcome.done(f"Site '{saved_name}' saved.", (problem,))
        return Outcome.done(f"Site '{saved_name}' saved: {_connected(result.info)}.", result.info.warnings)

    return _attempt(work)


def test_site(site_id: int) -> Outcome:
    """Test a stored site and record what was learnt (user, token expiry, latency) or the error."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            name = site_cases.get_site(session, site_id).name
            result = site_cases.test_site(session, ctx.cipher, site_id, deps.client_factory())
        if result.success and result.info is not None:
            return Outcome.done(f"Connection to '{name}' works: {_connected(result.info)}.", result.info.warnings)
        return Outcome(
            False, result.message, title=f"Connection to '{name}' failed", hint=_hint(result)
        )

    return _attempt(work)


def set_site_active(site_id: int, active: bool) -> Outcome:
    """Activate or deactivate a site (a deactivated site is skipped by every Rancher read)."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            site = site_cases.update_site(session, ctx.cipher, site_id, active=active)
            return Outcome.done(f"Site '{site.name}' {'activated' if active else 'deactivated'}.")

    return _attempt(work)


def remove_site(site_id: int, *, cascade: bool, shown: frozenset[int]) -> Outcome:
    """Remove a site; with `cascade`, also the app instances that use it, which must be those `shown` (by id)."""

    def work() -> Outcome:
        ctx = deps.get_context()
        with ctx.session() as session:
            name = site_cases.get_site(session, site_id).name
            removed = site_cases.remove_site(session, site_id, cascade=cascade, expected=shown)
        also = f" with its app instances {', '.join(sorted(removed))}" if removed else ""
        return Outcome.done(f"Site '{name}' removed{also}.")

    return _attempt(work)


def _hint(result: site_cases.ConnectionTest) -> str:
    """What the user can do about a failed connection test."""
    return result.error.hint if result.error is not None else ""


# ---- environments ----------------------------------------------------------------------------------------------


def add_environment(
    *, name: str, description: str, color: str | None, protected: bool, position: int | None
) -> Outcome:
    """Add an environment to the pipeline (at the end unless a position is given)."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            env = env_cases.add_environment(
                session, name=name, description=description, color=color, protected=protected, position=position
            )
            return Outcome.done(f"Environment '{env.name}' added.")

    return _attempt(work)


def update_environment(env_id: int, *, name: str, description: str, color: str, protected: bool,
                       required_approvals: int | None = None) -> Outcome:
    """Save an environment's name, description, colour, protection and required approvals."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            env = env_cases.update_environment(
                session, env_id, name=name, description=description, color=color, protected=protected,
                required_approvals=required_approvals,
            )
            return Outcome.done(f"Environment '{env.name}' saved.")

    return _attempt(work)


def move_environment(env_id: int, position: int) -> Outcome:
    """Move an environment to `position` in the pipeline."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            order = env_cases.move_environment(session, env_id, position)
            return Outcome.done("Pipeline order: " + " → ".join(e.name for e in order) + ".")

    return _attempt(work)


def remove_environment(env_id: int, *, cascade: bool, shown: frozenset[int]) -> Outcome:
    """Remove an environment; with `cascade`, also its app instances, which must be those `shown` (by id)."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            name = env_cases.get_environment(session, env_id).name
            removed = env_cases.remove_environment(session, env_id, cascade=cascade, expected=shown)
        also = f" with its app instances {', '.join(sorted(removed))}" if removed else ""
        return Outcome.done(f"Environment '{name}' removed{also}.")

    return _attempt(work)


# ---- app instances ---------------------------------------------------------------------------------------------


def add_instance(*, name: str, site_id: int, environment_id: int, cluster_id: str, namespace: str) -> Outcome:
    """Check the placement against Rancher, then store the app instance."""

    def work() -> Outcome:
        instance_name = clean_name(name, "app instance")
        ctx = deps.get_context()
        with ctx.session() as session:
            site = site_cases.get_site(session, site_id)
            placement = instance_cases.check_placement(site, ctx.cipher, cluster_id, namespace, deps.client_factory())
            instance = instance_cases.add_instance(
                session, name=instance_name, site=site_id, environment=environment_id, placement=placement
            )
            where = f"{placement.cluster_name}/{placement.namespace}"
            return Outcome.done(
                f"App instance '{instance.name}' added ({where} in {instance.environment.name}).", placement.warnings
            )

    return _attempt(work)


def update_instance(instance_id: int, *, name: str, environment_id: int) -> Outcome:
    """Rename an app instance and/or move it to another environment."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            before = instance_cases.get_instance(session, instance_id).environment.name
            instance = instance_cases.update_instance(session, instance_id, name=name, environment=environment_id)
            after = instance.environment.name
        moved = f", moved from {before} to {after}" if before != after else ""
        return Outcome.done(f"App instance '{instance.name}' saved{moved}.")

    return _attempt(work)


def remove_instance(instance_id: int) -> Outcome:
    """Forget an app instance; its workloads on the cluster are not touched."""

    def work() -> Outcome:
        with deps.get_context().session() as session:
            name = instance_cases.remove_instance(session, instance_id)
        return Outcome.done(f"App instance '{name}' removed (its workloads on the cluster were not touched).")

    return _attempt(work)


# ---- demo ------------------------------------------------------------------------------------------------------


def demo_available() -> bool:
    """Whether the built-in demo can be started (its module exists)."""
    demo = deps.demo_module()
    return demo is not None and hasattr(demo, "start_demo")


def start_demo(progress: Callable[[str], None] | None = None) -> Outcome:
    """Start the simulated Rancher servers and fill sites, environments and app instances."""
    demo = deps.demo_module()
    if demo is None or not hasattr(demo, "start_demo"):
        return Outcome(False, "The built-in demo is not part of this installation.", title="No demo available")

    def work() -> Outcome:
        summary = demo.start_demo(deps.get_context(), progress=progress)
        queries.clear_rancher()
        return Outcome.done(_demo_message(summary))

    return _attempt(work)


def _demo_message(summary: object) -> str:
    counts = [
        (getattr(summary, attr, None), noun)
        for attr, noun in (("sites", "site"), ("environments", "environment"), ("instances", "app instance"))
    ]
    parts = []
    for value, noun in counts:
        number = len(value) if isinstance(value, (list, tuple)) else value
        if isinstance(number, int):
            parts.append(f"{number} {noun}{'' if number == 1 else 's'}")
    return "The demo is ready" + (f": {', '.join(parts)}." if parts else ".")


# ---- sync ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncSides:
    """Both environments of a sync, read fresh from Rancher when the review opens (never from the 30 s cache: the
    plan must show what is there now). Services hold no token, so this can stay with the open dialog."""

    source: EnvironmentRef
    target: EnvironmentRef
    target_protected: bool
    source_services: tuple[Service, ...]
    target_services: tuple[Service, ...]

    def source_has(self, key: tuple[str, str]) -> bool:
        """Whether the source runs this (kind, name)."""
        return any(s.key == key for s in self.source_services)

    def target_instances(self, key: tuple[str, str]) -> list[tuple[int, str]]:
        """(id, name) of the target app instances that run this service."""
        return sorted({(s.instance.id, s.instance.name) for s in self.target_services if s.key == key},
                      key=lambda pair: pair[1])


@dataclass(frozen=True)
class SyncLine:
    """One service's result in a finished operation."""

    service: str
    kind: str
    target: str
    status: str
    previous: str
    new: str
    note: str


@dataclass(frozen=True)
class SyncReport:
    """A finished (or stopped) sync operation as the Services page reports it."""

    operation_id: int
    status: str  # complete, partial, failed, rolled_back, interrupted
    source: str
    target: str
    lines: tuple[SyncLine, ...]

    @property
    def ok(self) -> bool:
        return self.status == "complete"

    @property
    def changed(self) -> int:
        return sum(line.status == "success" for line in self.lines)


def read_sync_sides(source_id: int, target_id: int) -> SyncSides | Outcome:
    """Read both environments from Rancher now; refused while any of their app instances cannot be read (a plan
    must not mistake an unreadable app instance for a missing service)."""
    try:
        ctx = deps.get_context()
        with ctx.session() as session:
            sides = sync.read_sides(session, ctx.cipher, source_id, target_id, deps.client_factory())
        return SyncSides(sides.source, sides.target, sides.target_protected, sides.source_services,
                         sides.target_services)
    except RancherSyncError as error:
        return Outcome.failed(error)


def plan_sync(
    sides: SyncSides,
    keys: list[tuple[str, str]],
    *,
    mode: RetagMode,
    targets: dict[tuple[str, str], TargetChoice],
) -> SyncPlan | Outcome:
    """Plan promoting these services (which the source runs) from what `read_sync_sides` read; pure, so changing
    the mode or a target choice in the dialog re-plans without asking Rancher again."""
    try:
        return sync.plan_sync(sides.source, sides.target, sides.source_services, sides.target_services,
                              selected=keys, mode=mode, targets=targets)
    except RancherSyncError as error:
        return Outcome.failed(error)


def apply_sync(
    plan: SyncPlan,
    *,
    request_id: str,
    confirm_env: str | None,
    options: SyncOptions,
    on_event: Callable[[ProgressEvent], None],
    on_result: Callable[[SyncReport | Outcome], None],
) -> SyncReport | Outcome:
    """Apply a confirmed plan and report each service's result (also to `on_result`). `request_id` is the open
    confirmation's: the database refuses to apply it twice (a double click, a rerun)."""
    ctx = deps.get_context()
    names = {i.target.instance.id: i.target.instance.name for i in plan.items if i.target is not None}
    return _relayed(
        lambda progress: sync.apply_plan(ctx, plan, initiated_by=ctx.settings.user, request_id=request_id,
                                         confirm_env=confirm_env, options=options, progress=progress,
                                         factory=deps.client_factory()),
        lambda operation_id: _report(ctx, operation_id, names),
        on_event=on_event, on_result=on_result,
    )


def _relayed(
    run: Callable[[Callable[[ProgressEvent], None]], int],
    report: Callable[[int], SyncReport],
    *,
    on_event: Callable[[ProgressEvent], None],
    on_result: Callable[[SyncReport | Outcome], None],
) -> SyncReport | Outcome:
    """Run a sync or rollback in a worker of ours while this (the script's) thread relays its progress events.

    The core reports progress from its worker threads, where Streamlit must not be called. When drawing an event
    stops the script (a rerun, a closed tab), the operation still runs to its end, `on_result` still gets its
    report, and only then is the stop let through.
    """
    events: queue.SimpleQueue[ProgressEvent] = queue.SimpleQueue()
    stopped: BaseException | None = None
    result: SyncReport | Outcome
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rsm-operation") as worker:
            future = worker.submit(run, events.put)
            while not (future.done() and events.empty()):
                try:
                    event = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if stopped is None:
                    try:
                        on_event(event)
                    except BaseException as stop:  # Streamlit stops the script at a drawing call
                        stopped = stop
            result = report(future.result())
    except RancherSyncError as error:  # a busy target too: SyncBusy names it and says what to do
        result = Outcome.failed(error)
    finally:
        queries.clear_services()  # the next run shows the versions as they are now
        queries.clear_history()
    on_result(result)
    if stopped is not None:
        raise stopped
    return result


def _report(ctx: AppContext, operation_id: int, instance_names: Mapping[int, str] | None = None) -> SyncReport:
    """Each service's result of an operation, its target named as the plan named it when known."""
    names = instance_names or {}
    with ctx.session() as session:
        operation = sync.get_operation(session, operation_id)
        lines = tuple(
            SyncLine(
                service=r.service, kind=r.workload_kind,
                target=names.get(r.target_app_instance_id or -1, f"{r.cluster_id}/{r.namespace}"),
                status=r.status, previous=r.previous_image or "", new=r.new_image or "", note=r.error or "",
            )
            for r in operation.results
        )
        return SyncReport(operation.id, operation.status, operation.source_environment_name,
                          operation.target_environment_name, lines)


# ---- rollback (the Sync history screen) ---------------------------------------------------------------------------


def rollback_operation(
    operation_id: int,
    *,
    request_id: str,
    confirm_env: str | None,
    on_event: Callable[[ProgressEvent], None],
    on_result: Callable[[SyncReport | Outcome], None],
) -> SyncReport | Outcome:
    """Put back the images an operation replaced, as a new rollback operation, and report each service.
    `request_id` is the open confirmation's, so a double click cannot roll back twice."""
    ctx = deps.get_context()
    return _relayed(
        lambda progress: sync.rollback_operation(ctx, operation_id, initiated_by=ctx.settings.user,
                                                 request_id=request_id, confirm_env=confirm_env,
                                                 options=SyncOptions(poll_seconds=0.5), progress=progress,
                                                 factory=deps.client_factory()),
        lambda new_id: _report(ctx, new_id),
        on_event=on_event, on_result=on_result,
    )
