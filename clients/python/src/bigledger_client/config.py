"""Where the key and the server come from when the caller does not pass them: the
environment (BIGLEDGER_API_KEY, BIGLEDGER_BASE_URL), else a config file —
BIGLEDGER_CONFIG, else `$XDG_CONFIG_HOME/bigledger/config.toml` (`~/.config/…`), else
`config.ini` beside it:

    # config.toml                      ; config.ini
    api_key = "blk_…"                  [bigledger]
    base_url = "https://…"             api_key = blk_…
                                       base_url = https://…
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def config_dir() -> Path:
    home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(home) / "bigledger"


def read_config() -> dict[str, str]:
    named = os.environ.get("BIGLEDGER_CONFIG")
    candidates = (
        [Path(named)] if named else [config_dir() / "config.toml", config_dir() / "config.ini"]
    )
    for path in candidates:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            return _toml(text) if path.suffix == ".toml" else _ini(text)
    return {}


def _toml(text: str) -> dict[str, str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the file's flat `key = "value"` lines
        return _flat(text)
    data = tomllib.loads(text)
    section = data.get("bigledger", data)
    return {key: str(value) for key, value in section.items() if not isinstance(value, dict)}


def _flat(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip().strip("\"'") for key, value in pairs}


def _ini(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return dict(parser["bigledger"]) if parser.has_section("bigledger") else {}


def resolve(api_key: str | None, base_url: str | None) -> tuple[str | None, str]:
    """The key and base URL: as passed, else from the environment, else from the file."""
    config: dict[str, str] | None = None
    if not api_key:
        api_key = os.environ.get("BIGLEDGER_API_KEY")
    if not base_url:
        base_url = os.environ.get("BIGLEDGER_BASE_URL")
    if not api_key or not base_url:
        config = read_config()
        api_key = api_key or config.get("api_key")
        base_url = base_url or config.get("base_url")
    return api_key, base_url or DEFAULT_BASE_URL
