"""The local AWS endpoint fit for load: moto's server with its DynamoDB patched.

    python -m local_stack.local_aws --port 4566

moto as it is fails and slows down when many requests reach its DynamoDB at once (see
patch_moto_dynamodb), and its server closes every connection after one answer (see serve);
`make run` and the chat API benchmark start this instead of plain `moto.server`. Cognito, SQS,
SSM and the rest are moto's own, unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading


def app():
    """moto's WSGI application (every service, its /moto-api/ and Cognito's JWKS) with its
    DynamoDB patched for load; served by Gunicorn below."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    patch_moto_dynamodb()
    return DomainDispatcherApplication(create_backend_app)


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Runs app() under Gunicorn: one process (moto keeps its state in memory), a thread per
    request being handled.

    Not moto's own server: werkzeug's development server closes every connection after one
    answer, so each SDK call paid a new TCP connection (a third of the chat API's CPU per chat
    here, where AWS endpoints keep connections alive), and listens with a backlog of 128, which
    a burst of new connections overflows (each dropped SYN costs the client a 1 s, then 2 s,
    retransmission, enough to reach botocore's 3 s connect timeout). Gunicorn's gthread worker
    keeps idle connections open without holding a thread for each.
    """
    os.environ.setdefault("MOTO_PORT", str(port))  # moto writes it into URLs it returns
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        "64",
        "--keep-alive",
        "75",
        "--backlog",
        "4096",
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
        "--no-control-socket",
        "local_stack.local_aws:app()",
    ]
    os.execv(sys.executable, argv)  # noqa: S606 - becomes Gunicorn, a fixed argv


def patch_moto_dynamodb() -> None:
    """Three changes to its DynamoDB, so that the local stand-in does not limit
    the chat API under load (real DynamoDB takes concurrent writes in milliseconds):

    - one DynamoDB request at a time: moto's backend is not thread-safe; under concurrent
      TransactWriteItems it fails with "dictionary changed size during iteration" (HTTP 500),
      which the chat API reports as storage_unavailable;
    - a query by partition key reads that partition: moto 5 lists and sorts the whole table for
      every query, which also grows with the data;
    - a transaction's backup copies the table's item index and deep-copies only the items it
      touches; moto 5 deep-copies the whole table for every transaction (about 40 ms at 1,000
      items and 250 ms at 4,000 here), so each write gets slower as the benchmark adds data.
    """
    import copy

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    touched: list[tuple[str, dict]] = []  # keys of the running transaction, under `lock`

    call_action = DynamoHandler.call_action

    def serialized_call_action(self):
        with lock:
            return call_action(self)

    transact_write_items = DynamoDBBackend.transact_write_items

    def transact_with_light_backup(self, transact_items):
        for entry in transact_items:
            kind, op = next(iter(entry.items()))
            if kind == "Put" and op.get("TableName") in self.tables:
                table = self.tables[op["TableName"]]
                names = [table.hash_key_attr, table.range_key_attr]
                key = {name: op["Item"][name] for name in names if name in op["Item"]}
            else:
                key = op.get("Key", {})
            touched.append((op.get("TableName"), key))
        try:
            return transact_write_items(self, transact_items)
        finally:
            touched.clear()

    def table_backup(self, memo):
        clone = copy.copy(self)
        if not touched:  # not a transaction's backup: a real deep copy
            clone.__dict__ = copy.deepcopy(self.__dict__, memo)
            return clone
        # Requests are serialized, so only what this transaction touches can change: share the
        # other partitions, copy the touched ones and deep-copy the touched items.
        clone.items = self.items.copy()
        copied = {}  # partitions already copied into the clone
        for table_name, key in touched:
            if table_name != self.name or self.hash_key_attr not in key:
                continue
            hash_value = DynamoType(key[self.hash_key_attr])
            if hash_value not in self.items:
                continue
            if not self.has_range_key:
                clone.items[hash_value] = copy.deepcopy(self.items[hash_value])
                continue
            partition = copied.get(hash_value)
            if partition is None:
                partition = copied[hash_value] = clone.items[hash_value] = dict(
                    self.items[hash_value]
                )
            range_value = DynamoType(key.get(self.range_key_attr, {"S": ""}))
            if range_value in partition:
                partition[range_value] = copy.deepcopy(partition[range_value])
        return clone

    query = Table.query

    def partition_query(self, hash_key, *args, **kwargs):
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        partition = self.items.get(hash_key)
        if partition is None:
            items = []
        else:
            items = list(partition.values()) if self.has_range_key else [partition]
        self.all_items = lambda: sorted(items, key=lambda item: item.range_key or item.hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items  # back to the class's method

    DynamoHandler.call_action = serialized_call_action
    Table.query = partition_query
    DynamoDBBackend.transact_write_items = transact_with_light_backup
    Table.__deepcopy__ = table_backup


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.port, args.host)


if __name__ == "__main__":
    main()
