"""Profiles: where the console is, the API token, and access keys stored for produce/consume.

One JSON file in the user's config directory (platformdirs; `SKIFF_CONFIG_DIR` overrides it),
owner-only (0600 in a 0700 folder) because it holds the token and key secrets. `SKIFF_URL` and
`SKIFF_TOKEN` override the profile's values, for CI jobs that never write a file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from skiff_cli.errors import EXIT_USAGE, CliError

CONFIG_FILE = "config.json"
DEFAULT_PROFILE = "default"


def config_dir() -> Path:
    override = os.environ.get("SKIFF_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("skiff"))


def _config_path() -> Path:
    return config_dir() / CONFIG_FILE


def load_config() -> dict[str, Any]:
    path = _config_path()
    if not path.exists():
        return {"current_profile": DEFAULT_PROFILE, "profiles": {}}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"Cannot read {path}: {exc}") from exc
    data.setdefault("profiles", {})
    data.setdefault("current_profile", DEFAULT_PROFILE)
    return data


def save_config(data: dict[str, Any]) -> Path:
    """Write the file owner-only, replacing it atomically (never a moment world-readable)."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    path = _config_path()
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.chmod(temporary, 0o600)
    temporary.replace(path)
    return path


@dataclass
class Profile:
    name: str
    url: str
    token: str
    default_cluster: str | None = None
    keys: dict[str, dict[str, str]] = field(default_factory=dict)


def selected_profile_name(explicit: str | None) -> str:
    if explicit:
        return explicit
    return os.environ.get("SKIFF_PROFILE") or load_config()["current_profile"]


def profile(explicit: str | None) -> Profile:
    """The profile to act with; environment variables win over the file."""
    name = selected_profile_name(explicit)
    stored = load_config()["profiles"].get(name, {})
    url = os.environ.get("SKIFF_URL") or stored.get("url")
    token = os.environ.get("SKIFF_TOKEN") or stored.get("token")
    if not url or not token:
        raise CliError(
            f"Not logged in (profile '{name}'). Run: skiff login --url https://skiff.example.com",
            exit_code=EXIT_USAGE,
        )
    return Profile(
        name=name,
        url=url.rstrip("/"),
        token=token,
        default_cluster=stored.get("default_cluster"),
        keys=dict(stored.get("keys", {})),
    )


def update_profile(name: str, **values: Any) -> Path:
    data = load_config()
    entry = data["profiles"].setdefault(name, {})
    for key, value in values.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return save_config(data)


def store_key(profile_name: str, *, cluster_id: int, username: str, secret: str) -> Path:
    """Remember a key's secret for `skiff produce/consume` on that cluster (the last one wins)."""
    data = load_config()
    entry = data["profiles"].setdefault(profile_name, {})
    entry.setdefault("keys", {})[str(cluster_id)] = {"username": username, "secret": secret}
    return save_config(data)


def forget_profile(name: str) -> bool:
    data = load_config()
    existed = data["profiles"].pop(name, None) is not None
    save_config(data)
    return existed
