"""Starts moto's server (same arguments as `python -m moto.server`) with DynamoDB's isolation,
six speed fixes, two API Gateway corrections and what moto's CloudFormation lacks for keyrot's
templates (harness/moto_cloudformation.py, so that `serverless deploy` works on it).

Test infrastructure only (harness/moto.ts runs it).

0. Isolation: moto serves requests on threads and a DynamoDB request is not atomic there (a
   transaction checks its conditions, then writes, while other threads run). DynamoDB
   requests are served one at a time, so transactions are serializable as on AWS, and the
   clients need not queue their requests (which throttled a fleet rotation).

None of the speed fixes changes what an AWS call answers; each removes work moto repeats on
every request, which made a rotation cost seconds of CPU and the 1,000-target benchmark
impossible to run on a laptop:

1. EventBridge: moto builds a jsonpath parser (a PLY grammar) for every input path of every
   rule target on every PutEvents. The parsed expressions are immutable, so they are cached.
2. DynamoDB: TransactWriteItems deep-copies every table it touches before it starts, to put
   the copy back if a condition fails. The cost grows with the table (the ledger of a
   1,000-target fleet). Here the items the transaction names are saved instead, and only
   they are put back.
3. Queries: a Query on the table (not an index) sorts every item of the table to pick the
   partition's, so each one cost more as the ledger grew. It now looks at the partition only.
4. Routing: for every request moto lists its own package folder on disk to learn its
   service names. The list cannot change while the server runs, so it is read once.
5. SQS: for each message it receives, moto reads the queue's retention period by computing
   every queue attribute, three of which count the queue's messages: O(n) per message, a
   crawl once a fleet's events queue up. The retention period is read directly.
6. The request log: one line per request to stderr, which nobody reads (the harness keeps
   the stderr tail for start-up errors, which still reach it at WARNING and above).

Corrections, each making moto answer as AWS does (see each function's docstring):

7. API Gateway: DeleteApiKey also removes the key from every usage plan.
8. CloudFormation: the resource types and fixes of harness/moto_cloudformation.py (the S3
   bucket-policy condition at start, the rest on the first CloudFormation request).
9. API Gateway: TagResource on an API key's ARN tags the key (`keyrot adopt`).
10. Secrets Manager: moving AWSCURRENT with UpdateSecretVersionStage moves the secret's
    current version (GetSecretValue, PutSecretValue's AWSPREVIOUS) with it.
"""

import copy
import functools
import logging
import sys
import threading
import types

import jsonpath_ng.ext
import moto.backends
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.core.utils import unix_time
from moto.server import main
from moto.sqs.models import SQSBackend

import moto_cloudformation


def serve_dynamodb_one_request_at_a_time() -> None:
    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self):
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action


def cache_jsonpath() -> None:
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)


def item_level_transaction_rollback() -> None:
    # moto's own snapshot, `copy.deepcopy(table)`, becomes the identity: its rollback then
    # puts back the table as it is, and the wrapper below restores the touched items (no
    # other request runs meanwhile, see serve_dynamodb_one_request_at_a_time).
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


def query_only_the_partition() -> None:
    original_query = Table.query
    original_all_items = Table.all_items
    scope = threading.local()

    def all_items(self):
        hash_key = getattr(scope, "hash_key", None)
        if hash_key is None or not self.range_key_attr:
            return original_all_items(self)
        partition = self.items.get(hash_key) or {}
        return sorted(partition.values(), key=lambda item: (item.hash_key, item.range_key))

    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        scope.hash_key = hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            scope.hash_key = None

    Table.all_items = all_items
    Table.query = query


def read_retention_period_directly() -> None:
    def is_message_valid_based_on_retention_period(self, queue_name, message):
        retention_seconds = self.get_queue(queue_name).message_retention_period
        return retention_seconds + message.sent_timestamp / 1000 > unix_time()

    SQSBackend.is_message_valid_based_on_retention_period = (
        is_message_valid_based_on_retention_period
    )


def list_service_folders_once() -> None:
    folders = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: folders


def remove_deleted_keys_from_usage_plans() -> None:
    """DeleteApiKey removes the key from the usage plans that held it.

    AWS: a deleted key is no longer a key of any usage plan (GetUsagePlanKeys stops listing
    it). moto only dropped the key, so GetUsagePlanKeys kept listing it, and a client checking
    the plan saw keys that no longer existed. Now the key's usage-plan entries go with it.
    harness/apigateway-sim.ts's client-side correction stays harmless (it finds none left).
    """
    from moto.apigateway.models import APIGatewayBackend

    original = APIGatewayBackend.delete_api_key

    def delete_api_key(self, api_key_id):
        original(self, api_key_id)
        for plan_keys in self.usage_plan_keys.values():
            plan_keys.pop(api_key_id, None)

    APIGatewayBackend.delete_api_key = delete_api_key


def tag_api_keys() -> None:
    """TagResource on `arn:aws:apigateway:<region>::/apikeys/<id>` tags that API key.

    AWS: API keys are taggable resources; TagResource merges the tags into the key's, and
    GetApiKey/GetApiKeys return them. moto's TagResource knows stages only: for a key's ARN it
    looked for a stage named after the ARN's parts and failed. Now a key's ARN tags the key
    (NotFoundException for an unknown key, as AWS answers); every other ARN goes to moto.
    """
    import json
    from urllib.parse import unquote

    import moto.apigateway.urls as urls
    from moto.apigateway.exceptions import ApiKeyNotFoundException
    from moto.apigateway.responses import APIGatewayResponse

    # The server decodes the ARN's slashes before routing: a key's ARN needs its own route.
    route = "{0}/tags/arn:(?P<partition>[^/]+):apigateway:(?P<region_name>[^/]+)::/apikeys/(?P<apikey>[^/]+)$"
    urls.url_paths[route] = APIGatewayResponse.dispatch
    original = APIGatewayResponse.tag_resource

    def tag_resource(self):
        arn = unquote(self.path.split("/tags/")[1])
        resource = arn.split("::", 1)[1] if "::" in arn else ""
        parts = resource.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "apikeys":
            return original(self)
        key = self.backend.keys.get(parts[1])
        if key is None:
            raise ApiKeyNotFoundException()
        tags = self._get_param("tags") or {}
        key.tags = {**(key.tags or {}), **tags}
        return json.dumps({"item": tags})

    APIGatewayResponse.tag_resource = tag_resource


def current_version_follows_awscurrent() -> None:
    """UpdateSecretVersionStage that moves AWSCURRENT changes which version is current.

    AWS: the secret's current version is the one labelled AWSCURRENT. GetSecretValue without
    a version returns it, and the next PutSecretValue labels it AWSPREVIOUS. moto keeps the
    current version apart from the labels (`default_version_id`) and UpdateSecretVersionStage
    moved only the labels: after the edge-updater put a reference back (AWSCURRENT moved to
    the earlier version) GetSecretValue still returned the key being deleted, and the next
    write labelled the wrong version AWSPREVIOUS. Now the current version follows the label.
    """
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage

    def update_secret_version_stage(
        self, secret_id, version_stage, remove_from_version_id, move_to_version_id
    ):
        out = original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].default_version_id = move_to_version_id
        return out

    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage


def quiet_request_log() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


if __name__ == "__main__":
    serve_dynamodb_one_request_at_a_time()
    cache_jsonpath()
    item_level_transaction_rollback()
    query_only_the_partition()
    read_retention_period_directly()
    list_service_folders_once()
    remove_deleted_keys_from_usage_plans()
    tag_api_keys()
    current_version_follows_awscurrent()
    moto_cloudformation.install()
    quiet_request_log()
    sys.exit(main())
