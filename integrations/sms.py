"""Client of the SMS gateway that sends suppliers their one-time sign-in codes.

The gateway knows which phone is registered for a unified social credit code, so the platform
addresses a message by the credit code and never handles a phone number. The code travels only
in the request body (never in a URL, a header or a log line). The endpoint is described in
`simulators/sms.py`, which plays the gateway locally.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel

from domain.settings import Settings
from integrations.http import ServiceClient

LOGIN_CODE_TEMPLATE = "login_code"


class MessageAccepted(BaseModel):
    message_id: str


class SmsClient(ServiceClient):
    system = "sms"

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient | None = None) -> SmsClient:
        return cls(settings.sms_url, http=http, timeout_seconds=settings.http_timeout_seconds)

    async def send_login_code(self, credit_code: str, code: str, minutes: int, key: str) -> MessageAccepted:
        """Send `code` (valid `minutes`) to the phone registered for `credit_code`. The key makes
        a retry after a lost answer send nothing twice."""
        body = {"to": credit_code, "template": LOGIN_CODE_TEMPLATE, "params": {"code": code, "minutes": minutes}}
        data = await self.post("/messages", body, key)
        return self.parse(MessageAccepted, data)
