"""Who may change things: open on a local install, login for writes in team mode.

Team mode is on when a password is configured (`LAB_PASSWORD`, or `password` under `[lab]`
in `.streamlit/secrets.toml`) or an OpenID Connect provider is (an `[auth]` section in
secrets, used by `st.login`). Then queueing, cancelling, re-running and deleting need a
signed-in user; viewing and report links stay open unless `LAB_PRIVATE=1`.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from typing import Any

import streamlit as st

_SIGNED_IN = "auth.user"


@dataclass(frozen=True)
class AccessPolicy:
    password: str | None
    oidc: bool
    private: bool

    @property
    def team_mode(self) -> bool:
        return self.password is not None or self.oidc


def _secrets() -> dict[str, Any]:
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except Exception:  # no secrets.toml at all: Streamlit raises its own not-found error
        return {}


def access_policy() -> AccessPolicy:
    """Read the policy from the environment and Streamlit secrets."""
    secrets = _secrets()
    lab = secrets.get("lab") or {}
    password = os.environ.get("LAB_PASSWORD") or lab.get("password") or None
    private = os.environ.get("LAB_PRIVATE", "") in ("1", "true", "yes") or bool(lab.get("private"))
    return AccessPolicy(password=password, oidc="auth" in secrets, private=private)


def current_user(policy: AccessPolicy) -> str | None:
    """The signed-in user's name; "local" when no login is configured; None when signed out."""
    if not policy.team_mode:
        return "local"
    if policy.oidc and st.user.is_logged_in:
        return str(st.user.get("email") or st.user.get("name") or "signed in")
    return st.session_state.get(_SIGNED_IN)


def password_matches(policy: AccessPolicy, attempt: str) -> bool:
    """Constant-time comparison, so response times do not leak the password."""
    if policy.password is None:
        return False
    return hmac.compare_digest(policy.password.encode(), attempt.encode())


def account_sidebar() -> None:
    """In team mode: a sign-in form in the sidebar, or who is signed in and a sign-out button."""
    policy = access_policy()
    if not policy.team_mode:
        return
    user = current_user(policy)
    with st.sidebar:
        if user is not None:
            st.caption(f"Signed in as {user}")
            if st.button("Sign out", key="auth.sign_out"):
                st.session_state.pop(_SIGNED_IN, None)
                if policy.oidc and st.user.is_logged_in:
                    st.logout()
                st.rerun()
            return
        if policy.oidc and st.button("Sign in", key="auth.oidc", icon=":material/login:"):
            st.login()
        if policy.password is not None:
            with st.form("auth.password"):
                attempt = st.text_input("Team password", type="password", key="auth.attempt")
                if st.form_submit_button("Sign in"):
                    if password_matches(policy, attempt):
                        st.session_state[_SIGNED_IN] = "team member"
                        st.rerun()
                    st.error("That password is not right.")


def writes_allowed() -> bool:
    """Whether this session may change runs, without drawing anything."""
    return current_user(access_policy()) is not None


def can_write(purpose: str) -> bool:
    """True if this session may change things; else say where to sign in."""
    if writes_allowed():
        return True
    st.warning(f"Sign in (in the sidebar) to {purpose}.", icon=":material/lock:")
    return False


def require_viewer() -> None:
    """Stop the page unless viewing is open or the session is signed in."""
    policy = access_policy()
    if policy.private and current_user(policy) is None:
        st.info("Sign in (in the sidebar) to view this lab.", icon=":material/lock:")
        st.stop()
