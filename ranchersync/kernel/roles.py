"""The role vocabulary and where a role comes from by configuration (admins, a groups map, a default): plain values
that the settings parse at start-up; who may do what with a role is `ranchersync.access.identity`'s."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Final, Literal, get_args

from ranchersync.kernel.errors import ValidationError

Role = Literal["viewer", "operator", "releaser", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)  # lowest first
ROLE_RANK: Final = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True)
class RolePolicy:
    """How roles are derived (DESIGN.md configuration): admins by e-mail, groups by a map, a default."""

    admins: tuple[str, ...] = ()  # RANCHERSYNC_ADMINS: e-mails (globs allowed) that are always admin
    role_map: tuple[tuple[str, Role], ...] = ()  # RANCHERSYNC_ROLE_MAP: group → role
    default_role: Role = "viewer"  # RANCHERSYNC_DEFAULT_ROLE

    @classmethod
    def parse(cls, admins: str = "", role_map: str = "", default_role: str = "") -> RolePolicy:
        """Build from the environment variables' texts; a malformed value is a clear ValidationError."""
        mapping: list[tuple[str, Role]] = []
        if role_map.strip():
            try:
                raw = json.loads(role_map)
            except ValueError:
                raise ValidationError('RANCHERSYNC_ROLE_MAP must be JSON like {"group": "role"}') from None
            if not isinstance(raw, dict):
                raise ValidationError('RANCHERSYNC_ROLE_MAP must be a JSON object like {"group": "role"}')
            mapping = [(str(group), check_role(str(role))) for group, role in raw.items()]
        return cls(
            admins=tuple(a.strip().lower() for a in admins.split(",") if a.strip()),
            role_map=tuple(mapping),
            default_role=check_role(default_role) if default_role.strip() else "viewer",
        )

    def from_claims(self, email: str, groups: tuple[str, ...]) -> Role:
        """The role an identity's e-mail and groups give: admins list, else the highest mapped group, else default."""
        if any(fnmatch.fnmatchcase(email.lower(), pattern) for pattern in self.admins):
            return "admin"
        mapped = [role for group, role in self.role_map if group in groups]
        return max(mapped, key=ROLE_RANK.__getitem__) if mapped else self.default_role


def check_role(value: str) -> Role:
    """A role name, or a ValidationError listing the valid ones."""
    role = value.strip().lower()
    if role not in ROLES:
        raise ValidationError(f"unknown role '{value}': use one of {', '.join(ROLES)}")
    return role  # type: ignore[return-value]
