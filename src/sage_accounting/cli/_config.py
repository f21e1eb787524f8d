"""Where the command line keeps a login, and the client every API command is built from.

The config directory (``SAGE_CONFIG_DIR``, else click's per-user app directory, e.g.
``~/.config/sage-accounting``) holds, each mode 0600:

- ``tokens.json``: the token pair, a ``FileTokenStore`` (refreshes rotate it under its lock);
- ``app.json``: the app the user logged in with (client id and secret: Sage needs the secret for
  every refresh), the API base URL and the OAuth endpoints.

An API command uses, in order: ``SAGE_ACCESS_TOKEN`` (a bare token, for scripts and the sandbox),
else the stored login; with neither it stops with exit code 3.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .._runtime import ENV_ACCESS_TOKEN, ENV_BASE_URL, env, remember, write_atomic
from ._errors import CommandError, NotLoggedIn
from .exit_codes import EXIT_AUTH

if TYPE_CHECKING:
    from .. import SageAccounting
    from .._runtime import OAuthApp, OAuthSession, Quota

CONFIG_DIR_VARIABLE = "SAGE_CONFIG_DIR"


def config_dir() -> Path:
    return Path(os.environ.get(CONFIG_DIR_VARIABLE) or click.get_app_dir("sage-accounting"))


def make_config_dir() -> None:
    """Created private (0700): it holds the tokens and the client secret."""
    config_dir().mkdir(mode=0o700, parents=True, exist_ok=True)


def tokens_path() -> Path:
    return config_dir() / "tokens.json"


def app_path() -> Path:
    return config_dir() / "app.json"


@dataclass(frozen=True, repr=False)
class SavedApp:
    client_id: str
    client_secret: str
    redirect_uri: str
    base_url: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    revoke_url: str | None = None

    def __repr__(self) -> str:  # never the secret
        return f"SavedApp(client_id={self.client_id!r}, client_secret=***)"

    def oauth_app(self) -> OAuthApp:
        from .._runtime import OAuthApp

        return OAuthApp(
            self.client_id,
            self.client_secret,
            self.redirect_uri,
            authorize_url=self.authorize_url,  # None: Sage's
            token_url=self.token_url,
            revoke_url=self.revoke_url,
        )


def save_app(app: SavedApp) -> None:
    """Saved mode 0600 from the start (it holds the client secret), replacing the old at once."""
    make_config_dir()
    write_atomic(app_path(), json.dumps(asdict(app), indent=2), private=True)


_REQUIRED_APP_FIELDS = ("client_id", "client_secret", "redirect_uri")


def load_app() -> SavedApp | None:
    """The saved login's app; a file that is not one stops the command with one line naming
    the file and the fault (exit code 3: the login must be made again)."""
    path = app_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise _bad_app(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _bad_app(path, f"not JSON ({exc.msg})") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise CommandError(f"cannot read {path}: {exc}", EXIT_AUTH) from None
    if not isinstance(data, dict):
        raise _bad_app(path, f"not a JSON object ({type(data).__name__})")
    for name in SavedApp.__dataclass_fields__:
        value, required = data.get(name), name in _REQUIRED_APP_FIELDS
        if (required or value is not None) and (not isinstance(value, str) or not value):
            raise _bad_app(
                path, f"{name!r} must be a non-empty string" + ("" if required else " or null")
            )
    app = SavedApp(**{k: v for k, v in data.items() if k in SavedApp.__dataclass_fields__})
    remember(app.client_secret)
    return app


def _bad_app(path: Path, fault: str) -> CommandError:
    return CommandError(
        f"{path} is not a saved login: {fault}; run `sage-accounting login` again", EXIT_AUTH
    )


def make_client(
    base_url: str | None,
    business: str | None,
    quota: Quota | None = None,
    session: OAuthSession | None = None,
) -> SageAccounting:
    """The SDK client for an API command (see the module docstring for the order); ``quota``:
    a ``Quota`` to count against (a shared one for workers on several hosts); ``session``: the
    tokens to use instead of the environment's or the login's (a shared store's session)."""
    from .. import SageAccounting

    token = env(ENV_ACCESS_TOKEN)
    app = load_app()
    base_url = base_url or env(ENV_BASE_URL) or (app.base_url if app else None)
    if session is not None:
        return SageAccounting(session=session, business_id=business, base_url=base_url, quota=quota)
    if token:
        return SageAccounting(
            access_token=token, business_id=business, base_url=base_url, quota=quota
        )
    if app is None or not tokens_path().exists():
        raise NotLoggedIn("not logged in: run `sage-accounting login`, or set SAGE_ACCESS_TOKEN")
    from .._runtime import FileTokenStore, OAuthSession

    session = OAuthSession(app.oauth_app(), FileTokenStore(tokens_path()))
    return SageAccounting(session=session, business_id=business, base_url=base_url, quota=quota)
