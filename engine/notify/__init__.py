"""Notifications to the trader's services (Telegram, Discord, ntfy, webhooks, ... through
Apprise): what is worth a message (``notices``), folding and rate limiting (``outbox``), delivery
and secrets (``delivery``), the bus subscriber and its worker thread (``notifier``), and the
engine's run (``session``). README "Notifications"; docs/ARCHITECTURE.md."""

from __future__ import annotations

from engine.notify.session import SessionNotifications, notify_settings_view

__all__ = ["SessionNotifications", "notify_settings_view"]
