"""Guards that keep the layers apart and the command line quick: the core never loads Streamlit, and a plain
command loads neither the dashboard's libraries, Alembic (unless a migration is pending) nor the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ranchersync.storage import db

ROOT = Path(__file__).resolve().parents[2]


def _loaded_by(code: str, tmp_path: Path) -> set[str]:
    """The modules a fresh interpreter has loaded after running `code` (which must not print to stderr)."""
    out = tmp_path / "modules.json"
    script = f"{code}\nimport json, sys\nopen({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules)))\n"
    env = {"RANCHERSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'guard.db'}",
           "RANCHERSYNC_KEY_FILE": str(tmp_path / "key"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


def _families(modules: set[str], names: tuple[str, ...]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in names or any(m.startswith(n + ".") or m == n for n in names)}


def test_no_core_module_loads_streamlit(tmp_path: Path) -> None:
    code = (
        "import pkgutil, importlib, ranchersync\n"
        "for info in pkgutil.walk_packages(ranchersync.__path__, 'ranchersync.'):\n"
        "    if not info.name.endswith('__main__'):\n"
        "        importlib.import_module(info.name)\n"
    )
    loaded = _loaded_by(code, tmp_path)
    assert "ranchersync.cli.sync" in loaded and "ranchersync.simulator.server" in loaded  # everything was imported
    assert not _families(loaded, ("streamlit",))


RUN_ENVS_LIST = (
    "import runpy, sys\n"
    "sys.argv = ['ranchersync', 'envs', 'list', '--json']\n"
    "try:\n"
    "    runpy.run_module('ranchersync', run_name='__main__', alter_sys=True)\n"
    "except SystemExit as done:\n"
    "    assert done.code == 0, done.code\n"
)
HEAVY = ("streamlit", "pandas", "plotly", "alembic", "ranchersync.simulator", "ranchersync.ops.demo",
         "ranchersync.sync", "requests")


def test_a_plain_command_loads_only_what_it_needs(tmp_path: Path) -> None:
    first = _loaded_by(RUN_ENVS_LIST, tmp_path)  # a fresh database: the migrations run, so Alembic is loaded
    assert "alembic" in first
    assert not _families(first, tuple(h for h in HEAVY if h != "alembic"))
    again = _loaded_by(RUN_ENVS_LIST, tmp_path)  # the schema is current: nothing heavy at all
    assert not _families(again, HEAVY)


def test_the_schema_head_read_from_the_scripts_is_alembics() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS_DIR))
    assert db.head_revisions() == frozenset(ScriptDirectory.from_config(config).get_heads())


def _run_cli(*argv: str) -> str:
    return (
        "import runpy, sys\n"
        f"sys.argv = ['ranchersync', *{list(argv)!r}]\n"
        "try:\n"
        "    runpy.run_module('ranchersync', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
    )


def test_listing_services_loads_the_rancher_client_and_nothing_of_the_dashboard(tmp_path: Path) -> None:
    _loaded_by(_run_cli("envs", "add", "--name", "Dev", "--json"), tmp_path)  # migrates the fresh database
    loaded = _loaded_by(_run_cli("services", "list", "--env", "Dev", "--json"), tmp_path)
    assert "requests" in loaded and "ranchersync.inventory.reading" in loaded  # it did list
    assert not _families(loaded, ("streamlit", "pandas", "plotly", "alembic", "ranchersync.simulator",
                                  "ranchersync.ops.demo", "ranchersync.sync", "ranchersync.history"))
