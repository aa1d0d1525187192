"""What every part of the conversation store shares: the client, the table, the TTL, and
calls that turn AWS failures into the API's 503."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .items import unavailable


def call_table(client, table: str, operation: str, **kwargs) -> dict[str, Any]:
    """One DynamoDB call on `table`; a failed condition is the caller's to handle, any other
    failure is logged and becomes the API's 503."""
    try:
        return getattr(client, operation)(TableName=table, **kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise
        raise unavailable(operation, exc) from exc
    except BotoCoreError as exc:
        raise unavailable(operation, exc) from exc


class StoreBase:
    def __init__(self, client, table: str, *, retention_days: int = 365, sleep=time.sleep) -> None:
        self._db = client
        self._table = table
        self._retention_seconds = retention_days * 86400
        self._sleep = sleep

    def _expires_at(self) -> int:
        """The TTL of an item written now: DynamoDB removes it after the retention period."""
        return int(time.time()) + self._retention_seconds

    def _call(self, operation: str, **kwargs) -> dict[str, Any]:
        return call_table(self._db, self._table, operation, **kwargs)
