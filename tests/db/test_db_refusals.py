"""How a refusal names a ledger: its URL, never its password."""

from __future__ import annotations

from db.refusals import ledger_label


def test_a_url_without_a_password_is_named_as_given() -> None:
    for url in ("sqlite:///data/engine.db", "postgresql://engine@127.0.0.1:5432/ledger"):
        assert ledger_label(url) == url


def test_a_password_in_the_url_is_hidden() -> None:
    url = "postgresql://engine:s3cret@db.example:5432/ledger?sslmode=require"
    assert ledger_label(url) == "postgresql://engine:***@db.example:5432/ledger?sslmode=require"


def test_a_password_with_an_at_sign_is_hidden_whole() -> None:
    assert ledger_label("postgresql://engine:p@ss@db/ledger") == "postgresql://engine:***@db/ledger"
