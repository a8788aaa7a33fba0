"""Starts moto's server (same arguments as `python -m moto.server`) with four speed fixes.

Test infrastructure only (harness/moto.ts runs it). None of the fixes changes what an AWS
call answers; each removes work moto repeats on every request, which made a rotation cost
seconds of CPU and the 1,000-target benchmark impossible to run on a laptop:

1. EventBridge: moto builds a jsonpath parser (a PLY grammar) for every input path of every
   rule target on every PutEvents. The parsed expressions are immutable, so they are cached.
2. DynamoDB: TransactWriteItems deep-copies every table it touches before it starts, to put
   the copy back if a condition fails. The cost grows with the table (the ledger of a
   1,000-target fleet), and the copy also erases concurrent writes. Here the items the
   transaction names are saved instead, and only they are put back.
3. Routing: for every request moto lists its own package folder on disk to learn its
   service names. The list cannot change while the server runs, so it is read once.
4. The request log: one line per request to stderr, which nobody reads (the harness keeps
   the stderr tail for start-up errors, which still reach it at WARNING and above).
"""

import copy
import functools
import logging
import sys
import types

import jsonpath_ng.ext
import moto.backends
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.server import main


def cache_jsonpath() -> None:
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)


def item_level_transaction_rollback() -> None:
    # moto's own snapshot, `copy.deepcopy(table)`, becomes the identity: its rollback then
    # puts back the table as it is, and the wrapper below restores the touched items.
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    dynamodb_models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        saved = []
        for entry in transact_items:
            try:
                _, op = next(iter(entry.items()))
                table = self.get_table(op["TableName"])
                if "Item" in op:
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                else:
                    key = op["Key"]
                hash_value, range_value = self.get_keys_value(table, key)
                # Updates change the stored Item in place, so the saved one is a copy.
                before = copy.deepcopy(table.get_item(hash_value, range_value))
            except Exception:
                # A malformed entry: moto reports it when it reaches it.
                continue
            saved.append((table, hash_value, range_value, before))
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, before in reversed(saved):
                if before is None:
                    table.delete_item(hash_value, range_value)
                elif range_value is not None:
                    table.items[hash_value][range_value] = before
                else:
                    table.items[hash_value] = before
            raise

    DynamoDBBackend.transact_write_items = transact_write_items


def list_service_folders_once() -> None:
    folders = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: folders


def quiet_request_log() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


if __name__ == "__main__":
    cache_jsonpath()
    item_level_transaction_rollback()
    list_service_folders_once()
    quiet_request_log()
    sys.exit(main())
