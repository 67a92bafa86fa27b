"""The [notify] webhook: Slack-compatible JSON ({"text": ...} plus a "launchdeck" object) on an
action's start and finish (actions/flow.py) and on Go/No-Go changes (engine/announce.py). A webhook
that fails or hangs is reported (the returned words) and never holds anything up: it is bounded by
its own timeout and every error is caught.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from launchdeck.core.config_actions import NotifyConfig


def _where(url: str) -> str:
    """scheme://host only: a Slack webhook's path is its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{':' + str(parts.port) if parts.port else ''}"


async def post(notify: NotifyConfig | None, text: str, fields: dict[str, Any]) -> str | None:
    """POST the message; None when the webhook answered 2xx, else why not (URL token masked)."""
    if notify is None:
        return None
    import httpx

    try:
        async with httpx.AsyncClient(timeout=notify.timeout) as client:
            response = await client.post(notify.webhook, json={"text": text, "launchdeck": fields})
    except Exception as error:  # noqa: BLE001 - whatever went wrong, the action goes on
        return f"webhook {_where(notify.webhook)} failed: {type(error).__name__}: {str(error).replace(notify.webhook, _where(notify.webhook))}"
    if response.status_code // 100 != 2:
        return f"webhook {_where(notify.webhook)} answered HTTP {response.status_code}"
    return None
