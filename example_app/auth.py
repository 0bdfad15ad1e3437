"""Logging in and out with Flask-Login."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from .extensions import db, login_manager
from .forms import LoginForm
from .models import User

blueprint = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see that page."
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user whose id Flask-Login keeps in the session."""
    try:
        return db.session.get(User, int(user_id))
    except ValueError:
        return None


def safe_next(target: str | None) -> str | None:
    """*target* when it is a path on this site, else ``None``.

    Only relative URLs are followed after login: ``//evil.example``,
    ``https://evil.example`` and backslash or control-character tricks are
    refused, so the login page cannot be used as an open redirect.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    """The login form; a wrong email or password re-shows it with an error."""
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("contacts.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = db.session.scalars(
            select(User).where(func.lower(User.email) == form.email.data.lower())
        ).first()
        if user is not None and user.check_password(form.password.data):
            login_user(user, remember=form.remember.data)
            return redirect(next_url or url_for("contacts.index"))
        error = "That email and password do not match an account. Try again."
    if request.method == "POST":
        return render_template("login.html", form=form, error=error), 422
    return render_template("login.html", form=form, error=None)


@blueprint.post("/logout")
def logout() -> Response:
    """Log out (a POST with the CSRF token, so no link can log anyone out)."""
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
