"""A small web app that connects one Sage business: OAuth 2.0 with PKCE, tokens kept on disk.

The app sends the user to Sage (``/login``), takes the code Sage sends back (``/callback``),
keeps the tokens in a ``FileTokenStore`` (a 0600 JSON file: it survives restarts, and every
process using the file shares one refresh at a time), and lists the business's contacts
(``/contacts``). ``/logout`` revokes the grant and forgets the tokens.

Run it (``pip install 'sage-accounting[examples]'``)::

    export SAGE_CLIENT_ID=... SAGE_CLIENT_SECRET=...
    export SAGE_REDIRECT_URI=http://127.0.0.1:5000/callback   # registered with your Sage app
    flask --app examples/oauth_web_app.py run                  # then open http://127.0.0.1:5000/

Against the local sandbox instead of Sage, also set ``SAGE_BASE_URL`` and the sandbox's OAuth
URLs in ``SAGE_AUTHORIZE_URL``, ``SAGE_TOKEN_URL`` and ``SAGE_REVOKE_URL``. ``SAGE_TOKEN_FILE``
says where the tokens go (default ``sage-tokens.json``).

One token file holds one user's grant: right for a back-office integration that connects one
business. A multi-user app keeps one store per user (any object with the ``TokenStore`` methods).
"""

from __future__ import annotations

import html
import os
import secrets
from pathlib import Path

from flask import Flask, redirect, request, session, url_for
from werkzeug.wrappers import Response

from sage_accounting import (
    FileTokenStore,
    OAuthApp,
    OAuthError,
    OAuthSession,
    ReauthorizationRequired,
    SageAccounting,
    SageError,
)


def oauth_app_from_environment() -> OAuthApp:
    # The URLs are overrides, for the sandbox: unset (None), Sage's own apply.
    return OAuthApp(
        os.environ["SAGE_CLIENT_ID"],
        os.environ["SAGE_CLIENT_SECRET"],
        os.environ["SAGE_REDIRECT_URI"],
        authorize_url=os.environ.get("SAGE_AUTHORIZE_URL") or None,
        token_url=os.environ.get("SAGE_TOKEN_URL") or None,
        revoke_url=os.environ.get("SAGE_REVOKE_URL") or None,
    )


def create_app(
    oauth_app: OAuthApp | None = None,
    token_file: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
) -> Flask:
    """The Flask app; with no arguments everything comes from the environment (``flask run``)."""
    oauth = oauth_app or oauth_app_from_environment()
    token_path = Path(token_file or os.environ.get("SAGE_TOKEN_FILE", "sage-tokens.json"))
    store = FileTokenStore(token_path)
    api_url = base_url or os.environ.get("SAGE_BASE_URL")
    # PKCE verifiers of sign-ins in progress, by state. They stay on the server: the browser only
    # carries the state (which Sage puts in the URL anyway). Several workers would share a cache.
    pending: dict[str, str] = {}

    app = Flask(__name__)
    # Signs the session cookie that ties a callback to the browser that started the sign-in.
    app.secret_key = os.environ.get("FLASK_SECRET_KEY") or secrets.token_hex(32)

    def sage_client() -> SageAccounting:
        return SageAccounting(session=OAuthSession(oauth, store), base_url=api_url or None)

    @app.get("/")
    def home() -> str:
        connected = store.load() is not None
        if connected:
            return '<p>Connected to Sage. <a href="/contacts">Contacts</a> · <a href="/logout">Disconnect</a></p>'
        return '<p><a href="/login">Connect your Sage business</a></p>'

    @app.get("/login")
    def login() -> Response:
        flow = oauth.authorization_url(scope="full_access")
        session["oauth_state"] = flow.state
        pending[flow.state] = flow.code_verifier
        return redirect(flow.url)

    @app.get("/callback")
    def callback() -> Response | tuple[str, int]:
        state = session.pop("oauth_state", None)
        verifier = pending.pop(state, None) if state else None
        if state is None or verifier is None:
            return "No sign-in in progress: <a href='/login'>start again</a>", 400
        try:
            tokens = oauth.exchange_code(
                callback_url=request.url, expected_state=state, code_verifier=verifier
            )
        except OAuthError as error:  # StateMismatchError included: the code is refused
            return f"Sage sign-in failed: {html.escape(str(error))}", 400
        OAuthSession(oauth, store, tokens=tokens)  # stores the pair before anything uses it
        return redirect(url_for("contacts"))

    @app.get("/contacts")
    def contacts() -> Response | str | tuple[str, int]:
        try:
            with sage_client() as client:
                rows = [
                    f"<li>{html.escape(c.displayed_as or c.id or '')}</li>"
                    for c in client.contacts.list()
                ]
        except ReauthorizationRequired:  # no tokens yet, or the grant was revoked or expired
            return redirect(url_for("login"))
        except SageError as error:  # one readable line, secrets already removed
            return f"Sage said: {html.escape(str(error))}", 502
        return f"<h1>Contacts</h1><ul>{''.join(rows)}</ul>"

    @app.get("/logout")
    def logout() -> Response:
        tokens = store.load()
        if tokens is not None and tokens.refresh_token:
            try:
                oauth.revoke(tokens.refresh_token)
            except SageError:
                pass  # forgetting the tokens below disconnects us either way
        token_path.unlink(missing_ok=True)
        return redirect(url_for("home"))

    return app
