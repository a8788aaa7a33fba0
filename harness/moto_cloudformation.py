"""What moto 5.2.1's CloudFormation lacks to deploy keyrot's templates, added on moto's own
backends. Test infrastructure only: harness/moto_server.py applies it (`install()`), so that
`serverless deploy` onto the local emulator creates what it creates on AWS.

Stock moto skips every resource type it has no model for while reporting the stack complete,
resolves a `Ref` to such a resource to nothing (an environment variable built from it silently
disappears), and gets a few things about the types it has wrong. Each function below fixes one
thing; its docstring says what AWS does, what moto did and what the fix changes. They patch moto
only, through its backends (the same calls its API handlers make), so what a deploy creates
reads back through the ordinary APIs (DescribeEventBus, GetQueueAttributes, GetSchedule, ...).

Resource types added (one CloudFormation model class each, registered in moto's model map):
`AWS::Events::EventBusPolicy`, `AWS::SQS::QueuePolicy`, `AWS::SNS::TopicPolicy`,
`AWS::SNS::Subscription`, `AWS::CloudWatch::Alarm`, `AWS::Scheduler::ScheduleGroup`,
`AWS::Scheduler::Schedule`, `AWS::S3::BucketPolicy`, `AWS::Lambda::EventInvokeConfig`.

Loading moto's CloudFormation pulls in most of moto (~2 s), which every test that never deploys
would pay: the CloudFormation fixes are installed when the server first loads its CloudFormation
backend (the first CloudFormation request), the S3 one at start.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import moto.backends

# Read by the S3 fix: what a request to the emulator looks like in a policy's condition keys.
EMULATOR_REQUEST_CONTEXT = {
    # The emulator listens on plain http on 127.0.0.1 because it stands in for AWS's https
    # endpoints (the SDK and osls would use TLS there); nothing reaches it over a network.
    "aws:securetransport": "true",
}


def install() -> None:
    """Installs the S3 fix now and the CloudFormation fixes on the first CloudFormation request."""
    evaluate_secure_transport_in_bucket_policies()
    lock = threading.Lock()
    installed = False
    original_get_backend = moto.backends.get_backend

    def get_backend(name: Any) -> Any:
        nonlocal installed
        if name == "cloudformation" and not installed:
            with lock:
                if not installed:
                    install_cloudformation_fixes()
                    installed = True
        return original_get_backend(name)

    moto.backends.get_backend = get_backend  # type: ignore[assignment]


def install_cloudformation_fixes() -> None:
    """Every CloudFormation fix (imports moto's CloudFormation, so it loads most of moto)."""
    import moto.cloudformation.parsing as parsing

    add_resource_types()
    event_bus_ref_is_its_name()
    lambda_version_ref_is_its_arn()
    lambda_function_keeps_its_architecture()
    lambda_permission_is_a_named_statement()
    kms_key_policy_stored_as_json()
    iam_role_inline_policies_stored_as_json()
    dynamodb_table_ttl_recovery_and_encryption()
    change_sets_honour_depends_on()
    resource_events_and_failed_deploys()
    change_set_refreshes_outputs()
    stack_resources_lists_created_resources_only()
    add_secrets_manager_secret()
    # moto builds its type → model map once (cached): the new model classes must be in it.
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


# --- S3 -------------------------------------------------------------------------------------


def evaluate_secure_transport_in_bucket_policies() -> None:
    """S3 bucket policies: a statement applies only when its `aws:SecureTransport` condition holds.

    AWS evaluates a bucket policy's conditions against the request; every deployment bucket
    Serverless creates carries "Deny s3:* unless aws:SecureTransport", which AWS applies only to
    plain-http requests. moto enforces bucket policies but ignores their conditions (an
    unsupported operator counts as met), so that Deny refused every request, the deploy's
    uploads included. Now a statement whose `Bool` condition on `aws:SecureTransport` does not
    hold for the request is left out before moto evaluates the policy; requests to the emulator
    count as secure transport (`EMULATOR_REQUEST_CONTEXT`: it stands in for AWS's https
    endpoint). The policy itself is stored and returned unchanged; other conditions are
    evaluated as moto did.
    """
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        # Imported here: IAM's models are loaded only once a bucket policy is evaluated.
        from moto.iam.access_control import IAMPolicy, PermissionResult

        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode())
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        applicable = [s for s in statements if not _condition_fails(s.get("Condition"))]
        return IAMPolicy(json.dumps({**document, "Statement": applicable})).is_action_permitted(
            action, resource
        )

    FakeBucket.get_permission = get_permission


def _condition_fails(condition: dict[str, Any] | None) -> bool:
    """True when a `Bool` condition names a key of the emulator's request context it does not hold."""
    for operator, tests in (condition or {}).items():
        if operator != "Bool":
            continue
        for key, expected in tests.items():
            actual = EMULATOR_REQUEST_CONTEXT.get(key.lower())
            if actual is None:
                continue
            values = expected if isinstance(expected, list) else [expected]
            if actual not in [str(value).lower() for value in values]:
                return True
    return False


# --- resource types moto skipped ---------------------------------------------------------

_ADDED_MODELS: list[type] = []
# moto files each model under the service named by its module (`moto.<service>....`).
MOTO_MODULE = "moto.cloudformation.keyrot_added_models"


def add_resource_types() -> None:
    """Defines a CloudFormation model per resource type moto skipped (see the classes below).

    AWS creates every resource of a template; moto logged "No Moto CloudFormation support",
    created nothing and still reported the stack complete. The classes are created here (not at
    import) so that moto's CloudFormation is loaded only when needed; defining them registers
    them, since moto lists the subclasses of its CloudFormationModel.
    """
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.common_models import CloudFormationModel
    from moto.events.models import EventBusPolicyStatement, events_backends
    from moto.s3.models import s3_backends
    from moto.scheduler.models import scheduler_backends
    from moto.sns.models import sns_backends
    from moto.sqs.models import sqs_backends
    from moto.awslambda.models import EventInvokeConfig, lambda_backends
    from moto.utilities.utils import get_partition

    class Common:
        """Shared plumbing: physical id, update = delete + create, no name property. A mixin:
        moto lists only the direct subclasses of CloudFormationModel."""

        physical_id = ""
        arn = ""
        has_arn = False  # GetAtt Arn returns `arn`

        @property
        def physical_resource_id(self) -> str:
            return self.physical_id

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return cls.has_arn and attr == "Arn"

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if self.has_arn and attribute_name == "Arn":
                return self.arn
            raise UnformattedGetAttTemplateException()

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> None:
            pass

        def delete(self, account_id: str, region_name: str) -> None:
            pass

        def is_created(self) -> bool:
            return True

    class EventBusPolicy(Common, CloudFormationModel):
        """`AWS::Events::EventBusPolicy`: one statement of the bus's resource policy.

        AWS adds the statement (Sid = StatementId) to the bus's policy, which DescribeEventBus
        returns as `Policy`; the new-style `Statement` property is stored as written. The older
        Action/Principal/Condition properties are turned into a statement as PutPermission does.
        """

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Events::EventBusPolicy"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "EventBusPolicy":
            properties = cloudformation_json["Properties"]
            bus_name = properties.get("EventBusName") or "default"
            sid = properties["StatementId"]
            bus = events_backends[account_id][region_name].describe_event_bus(bus_name)
            statement = properties.get("Statement")
            if statement is None:
                principal = properties["Principal"]
                statement = {
                    "Effect": "Allow",
                    "Principal": {"AWS": principal if principal == "*" else f"arn:aws:iam::{principal}:root"},
                    "Action": properties["Action"],
                    "Resource": bus.arn,
                    **({"Condition": properties["Condition"]} if properties.get("Condition") else {}),
                }
            bus._statements[sid] = EventBusPolicyStatement(
                sid=sid,
                principal=statement["Principal"],
                action=statement["Action"],
                resource=statement.get("Resource", bus.arn),
                effect=statement.get("Effect", "Allow"),
                condition=statement.get("Condition"),
            )
            policy = cls()
            policy.physical_id = sid
            policy.bus_name = bus_name
            return policy

        def delete(self, account_id: str, region_name: str) -> None:
            bus = events_backends[account_id][region_name].event_buses.get(self.bus_name)
            if bus is not None:
                bus.remove_statement(self.physical_id)

    class QueuePolicy(Common, CloudFormationModel):
        """`AWS::SQS::QueuePolicy`: sets the `Policy` attribute of each queue listed in `Queues`
        (queue URLs), as SetQueueAttributes does."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SQS::QueuePolicy"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "QueuePolicy":
            properties = cloudformation_json["Properties"]
            document = json.dumps(properties["PolicyDocument"])
            queues = [_queue_of(url, account_id, region_name) for url in properties["Queues"]]
            for queue in queues:
                queue.policy = document
            policy = cls()
            policy.physical_id = resource_name
            policy.queues = queues
            return policy

        def delete(self, account_id: str, region_name: str) -> None:
            for queue in self.queues:
                queue.policy = None

    def _queue_of(url: str, account_id: str, region_name: str) -> Any:
        # https://sqs.<region>.amazonaws.com/<account>/<name>
        parts = url.rstrip("/").split("/")
        queue_account = parts[-2] if len(parts) >= 2 and parts[-2].isdigit() else account_id
        return sqs_backends[queue_account][region_name].get_queue(parts[-1])

    class TopicPolicy(Common, CloudFormationModel):
        """`AWS::SNS::TopicPolicy`: sets the `Policy` attribute of each topic in `Topics` (ARNs),
        replacing the default policy, as SetTopicAttributes does."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::TopicPolicy"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "TopicPolicy":
            properties = cloudformation_json["Properties"]
            backend = sns_backends[account_id][region_name]
            document = json.dumps(properties["PolicyDocument"])
            topics = [backend.get_topic(arn) for arn in properties["Topics"]]
            for topic in topics:
                topic.policy = document
            policy = cls()
            policy.physical_id = resource_name
            return policy

    class Subscription(Common, CloudFormationModel):
        """`AWS::SNS::Subscription`: Subscribe (TopicArn, Protocol, Endpoint); Ref is its ARN."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SNS::Subscription"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "Subscription":
            properties = cloudformation_json["Properties"]
            backend = sns_backends[account_id][region_name]
            created = backend.subscribe(
                properties["TopicArn"], properties["Endpoint"], properties["Protocol"]
            )
            for name in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"):
                if name in properties:
                    value = properties[name]
                    created.attributes[name] = json.dumps(value) if isinstance(value, dict) else value
            subscription = cls()
            subscription.physical_id = created.arn
            return subscription

        def delete(self, account_id: str, region_name: str) -> None:
            sns_backends[account_id][region_name].unsubscribe(self.physical_id)

    class MetricAlarm(Common, CloudFormationModel):
        """`AWS::CloudWatch::Alarm` (a metric alarm): PutMetricAlarm with the template's
        properties, readable by DescribeAlarms; Ref is the alarm name, GetAtt Arn its ARN."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudWatch::Alarm"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        has_arn = True

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "MetricAlarm":
            p = cloudformation_json["Properties"]
            optional_int = lambda name: int(p[name]) if name in p else None  # noqa: E731
            created = cloudwatch_backends[account_id][region_name].put_metric_alarm(
                name=resource_name,
                namespace=p.get("Namespace"),
                metric_name=p.get("MetricName"),
                comparison_operator=p["ComparisonOperator"],
                evaluation_periods=int(p["EvaluationPeriods"]),
                period=optional_int("Period"),
                threshold=float(p["Threshold"]) if "Threshold" in p else None,
                statistic=p.get("Statistic"),
                description=p.get("AlarmDescription"),
                dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions", [])],
                alarm_actions=p.get("AlarmActions", []),
                datapoints_to_alarm=optional_int("DatapointsToAlarm"),
                extended_statistic=p.get("ExtendedStatistic"),
                ok_actions=p.get("OKActions", []),
                insufficient_data_actions=p.get("InsufficientDataActions", []),
                unit=p.get("Unit"),
                actions_enabled=str(p.get("ActionsEnabled", True)).lower() == "true",
                treat_missing_data=p.get("TreatMissingData"),
                evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
                threshold_metric_id=p.get("ThresholdMetricId"),
                tags=p.get("Tags"),
            )
            alarm = cls()
            alarm.physical_id = created.name
            alarm.arn = created.alarm_arn
            return alarm

        def delete(self, account_id: str, region_name: str) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_id])

    class ScheduleGroup(Common, CloudFormationModel):
        """`AWS::Scheduler::ScheduleGroup`: CreateScheduleGroup; Ref is its name, GetAtt Arn."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Scheduler::ScheduleGroup"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        has_arn = True

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "ScheduleGroup":
            properties = cloudformation_json["Properties"]
            created = scheduler_backends[account_id][region_name].create_schedule_group(
                name=resource_name, tags=properties.get("Tags", [])
            )
            group = cls()
            group.physical_id = created.name
            group.arn = created.arn
            return group

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            # Same name: the group stays, with the schedules in it (only a new name replaces it).
            if new_resource_name == original_resource.physical_id:
                return original_resource
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )

        def delete(self, account_id: str, region_name: str) -> None:
            scheduler_backends[account_id][region_name].schedule_groups.pop(self.physical_id, None)

    class Schedule(Common, CloudFormationModel):
        """`AWS::Scheduler::Schedule`: CreateSchedule with the template's expression, time
        window, state and Target (Arn, RoleArn, Input, EventBridgeParameters, RetryPolicy,
        DeadLetterConfig), readable by GetSchedule; Ref is its name, GetAtt Arn its ARN."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Scheduler::Schedule"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        has_arn = True

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "Schedule":
            p = cloudformation_json["Properties"]
            group_name = p.get("GroupName") or "default"
            created = scheduler_backends[account_id][region_name].create_schedule(
                description=p.get("Description"),
                end_date=p.get("EndDate"),
                flexible_time_window=p["FlexibleTimeWindow"],
                group_name=group_name,
                kms_key_arn=p.get("KmsKeyArn"),
                name=resource_name,
                schedule_expression=p["ScheduleExpression"],
                schedule_expression_timezone=p.get("ScheduleExpressionTimezone"),
                start_date=p.get("StartDate"),
                state=p.get("State"),
                target=p["Target"],
                action_after_completion=p.get("ActionAfterCompletion"),
            )
            schedule = cls()
            schedule.physical_id = created.name
            schedule.arn = created.arn
            schedule.group_name = group_name
            return schedule

        def delete(self, account_id: str, region_name: str) -> None:
            backend = scheduler_backends[account_id][region_name]
            group = backend.schedule_groups.get(self.group_name)
            if group is not None:
                group.schedules.pop(self.physical_id, None)

    class BucketPolicy(Common, CloudFormationModel):
        """`AWS::S3::BucketPolicy`: PutBucketPolicy on `Bucket` with `PolicyDocument`."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3::BucketPolicy"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "BucketPolicy":
            properties = cloudformation_json["Properties"]
            bucket = properties["Bucket"]
            s3_backends[account_id][get_partition(region_name)].put_bucket_policy(
                bucket, json.dumps(properties["PolicyDocument"]).encode()
            )
            policy = cls()
            policy.physical_id = bucket
            return policy

        def delete(self, account_id: str, region_name: str) -> None:
            backend = s3_backends[account_id][get_partition(region_name)]
            if self.physical_id in backend.buckets:
                backend.delete_bucket_policy(self.physical_id)

    class FunctionEventInvokeConfig(Common, CloudFormationModel):
        """`AWS::Lambda::EventInvokeConfig`: the function's asynchronous-invocation settings
        (MaximumRetryAttempts, MaximumEventAgeInSeconds, DestinationConfig) for `Qualifier`,
        readable by GetFunctionEventInvokeConfig. Replaces any earlier configuration, as
        PutFunctionEventInvokeConfig does (moto's own put appends, and reads the first)."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::Lambda::EventInvokeConfig"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "FunctionEventInvokeConfig":
            p = cloudformation_json["Properties"]
            function = lambda_backends[account_id][region_name].get_function(p["FunctionName"])
            config = {
                key: int(p[key]) if key != "DestinationConfig" else p[key]
                for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
                if key in p
            }
            qualifier = p.get("Qualifier", "$LATEST")
            function.event_invoke_config = [
                EventInvokeConfig(f"{function.function_arn}:{qualifier}", function.last_modified, config)
            ]
            invoke_config = cls()
            invoke_config.physical_id = f"{function.function_name}|{qualifier}"
            invoke_config.function = function
            return invoke_config

        def delete(self, account_id: str, region_name: str) -> None:
            self.function.event_invoke_config = []

    # moto finds its models through CloudFormationModel.__subclasses__(), which holds them weakly:
    # keep these reachable for the server's lifetime.
    _ADDED_MODELS.extend(
        [
        EventBusPolicy,
        QueuePolicy,
        TopicPolicy,
        Subscription,
        MetricAlarm,
        ScheduleGroup,
        Schedule,
        BucketPolicy,
        FunctionEventInvokeConfig,
        ]
    )


def add_secrets_manager_secret() -> None:
    """Defines `AWS::SecretsManager::Secret` (keyrot's current-key references, issue 15).

    AWS: CreateSecret with the template's Name, Description and KmsKeyId; with neither
    SecretString nor GenerateSecretString the secret has no version until the first
    PutSecretValue (keyrot's edge stack creates its references so). Ref is the secret's ARN
    (name, `-` and six random characters). An update that keeps the Name keeps the secret and
    its versions (AWS updates it in place); a new Name replaces it. moto had no model: it
    created nothing and still reported the stack complete.
    """
    from moto.core.common_models import CloudFormationModel
    from moto.secretsmanager.models import secretsmanager_backends

    class SecretsManagerSecret(CloudFormationModel):
        __module__ = MOTO_MODULE

        def __init__(self, arn: str, name: str) -> None:
            self.arn = arn
            self.name = name

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SecretsManager::Secret"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Id"

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

            if attribute_name == "Id":
                return self.arn
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "SecretsManagerSecret":
            import json
            import secrets as random_source

            properties = cloudformation_json.get("Properties", {})
            value = properties.get("SecretString")
            generate = properties.get("GenerateSecretString")
            if value is None and generate is not None:
                length = int(generate.get("PasswordLength", 32))
                alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                value = "".join(random_source.choice(alphabet) for _ in range(length))
            backend = secretsmanager_backends[account_id][region_name]
            created = json.loads(
                backend.create_secret(
                    name=properties.get("Name", resource_name),
                    secret_string=value,
                    secret_binary=None,
                    description=properties.get("Description"),
                    tags=properties.get("Tags", []),
                    kms_key_id=properties.get("KmsKeyId"),
                    client_request_token=None,
                    replica_regions=[],
                    force_overwrite=False,
                )
            )
            return cls(created["ARN"], created["Name"])

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            name = cloudformation_json.get("Properties", {}).get("Name", new_resource_name)
            if name == original_resource.name:
                return original_resource
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> None:
            pass

        def delete(self, account_id: str, region_name: str) -> None:
            backend = secretsmanager_backends[account_id][region_name]
            backend.secrets.pop(self.name, None)

        def is_created(self) -> bool:
            return True

    _ADDED_MODELS.append(SecretsManagerSecret)


# --- resource types moto has, corrected -----------------------------------------------------


def event_bus_ref_is_its_name() -> None:
    """`Ref` of an `AWS::Events::EventBus` is the bus's name.

    AWS: Ref returns the bus name, GetAtt Arn its ARN. moto's EventBus had no physical id, so a
    Ref resolved to the Python object, and the first property built from it failed the deploy
    with HTTP 500 ('EventBus' object has no attribute 'split'). Now Ref is the name.
    """
    from moto.events.models import EventBus

    EventBus.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]


def lambda_version_ref_is_its_arn() -> None:
    """`AWS::Lambda::Version`: Ref is the version's ARN, GetAtt Version its number, and a
    `CodeSha256` that differs from the function's code fails the version.

    AWS: Ref returns the qualified ARN (`...:function:<name>:<n>`); PublishVersion with a
    CodeSha256 other than the function's refuses to publish. moto resolved Ref to the logical id
    (so Serverless's `<Function>QualifiedArn` outputs were the logical ids) and ignored
    CodeSha256. Now Ref is the ARN, and a mismatch fails the resource as on AWS, so each deploy
    checks that the code moto stored is the zip Serverless hashed.
    """
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaVersion, lambda_backends
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    def create_from_cloudformation_json(  # type: ignore[misc]
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        backend = lambda_backends[account_id][region_name]
        latest = backend.get_function(properties["FunctionName"])
        expected = properties.get("CodeSha256")
        if expected is not None and expected != latest.code_sha_256:
            raise InvalidParameterValueException(
                f"CodeSha256 ({expected}) is different from current CodeSha256 in $LATEST "
                f"({latest.code_sha_256}). Please try again with the CodeSha256 in $LATEST."
            )
        published = backend.publish_version(properties["FunctionName"], properties.get("Description", ""))
        version = LambdaVersion({"Version": published.version})
        version.qualified_arn = published.function_arn
        return version

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name == "Version":
            return str(self.version)
        raise UnformattedGetAttTemplateException()

    LambdaVersion.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment]
    LambdaVersion.physical_resource_id = property(lambda self: self.qualified_arn)  # type: ignore[attr-defined]
    LambdaVersion.has_cfn_attr = classmethod(lambda cls, attr: attr == "Version")  # type: ignore[assignment]
    LambdaVersion.get_cfn_attribute = get_cfn_attribute  # type: ignore[attr-defined]


def lambda_function_keeps_its_architecture() -> None:
    """`AWS::Lambda::Function`: `Architectures` is applied.

    AWS runs the function on the architecture the template names (keyrot's: arm64). moto's
    CloudFormation model passed a fixed list of properties to CreateFunction, without
    Architectures, so every function reported x86_64. Now the property is applied (moto's own
    CreateFunction validates it). Handler, Runtime, Role, Timeout, MemorySize, Environment,
    ReservedConcurrentExecutions and Code (S3Bucket/S3Key, CodeSha256 = base64 of the zip's
    SHA-256, as on AWS) were already stored.
    """
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(  # type: ignore[misc]
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        function = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        architectures = cloudformation_json["Properties"].get("Architectures")
        if architectures:
            function.architectures = architectures
        return function

    LambdaFunction.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment]


def lambda_permission_is_a_named_statement() -> None:
    """`AWS::Lambda::Permission`: the statement's Sid is the resource's physical id.

    AWS names the statement it adds to the function's policy after the resource (the physical
    id, `<stack>-<LogicalId>-<suffix>`), and Ref returns it. moto added the statement under a
    random Sid and had no physical id (Ref resolved to a Python object, ListStackResources showed
    none). Now the generated name is both. The statement itself (Principal, SourceArn, Action)
    is moto's AddPermission translation, readable by GetPolicy, less the `FunctionName` moto
    copied into it (AWS's statement names the function as its Resource).
    """
    from moto.awslambda.models import Permission, lambda_backends

    original = Permission.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(  # type: ignore[misc]
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        properties.setdefault("StatementId", resource_name)
        permission = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        permission.statement_id = properties["StatementId"]
        # moto copies every property into the statement; AWS's statement has no FunctionName
        # (the function is its Resource), and a policy evaluator refuses the unknown key.
        function = lambda_backends[account_id][region_name].get_function(properties["FunctionName"])
        for statement in function.policy.statements:
            if statement.get("Sid") == permission.statement_id:
                statement.pop("FunctionName", None)
        return permission

    Permission.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment]
    Permission.physical_resource_id = property(lambda self: self.statement_id)  # type: ignore[attr-defined]


def kms_key_policy_stored_as_json() -> None:
    """`AWS::KMS::Key`: a `KeyPolicy` given as an object is stored as its JSON document.

    AWS accepts the policy as an object in a template and GetKeyPolicy returns it as a JSON
    string. moto stored the object itself, so GetKeyPolicy returned an unparseable value
    (`[object Object]` in JavaScript) and moto's own key-policy checks skipped it. Now the
    object is serialised before the key is created.
    """
    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(  # type: ignore[misc]
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        if not isinstance(properties.get("KeyPolicy"), (str, type(None))):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment]


def iam_role_inline_policies_stored_as_json() -> None:
    """`AWS::IAM::Role`: inline `Policies` are stored as JSON documents, and an update applies
    the new trust policy and inline policies.

    AWS stores each inline policy as a JSON document (GetRolePolicy returns it URL-encoded) and,
    when a stack update changes the role, puts the new documents. moto stored the template's
    object as is, where PutRolePolicy stores a string, so GetRolePolicy answered with a non-JSON
    rendering of it; and its update changed only the description, keeping the old policies (a
    redeploy with a new KMS key ARN kept granting the old one). Now each document is serialised
    before moto stores it, and an update replaces the trust policy and the inline policies.
    """
    from moto.iam.models import Role, iam_backends
    from moto.utilities.utils import get_partition

    def documents_as_json(properties: dict[str, Any]) -> None:
        for policy in properties.get("Policies", []):
            if not isinstance(policy["PolicyDocument"], str):
                policy["PolicyDocument"] = json.dumps(policy["PolicyDocument"])
        trust = properties.get("AssumeRolePolicyDocument")
        if trust is not None and not isinstance(trust, str):
            properties["AssumeRolePolicyDocument"] = json.dumps(trust)

    original_create = Role.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    original_update = Role.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(  # type: ignore[misc]
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        documents_as_json(cloudformation_json["Properties"])
        return original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    def update_from_cloudformation_json(  # type: ignore[misc]
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        documents_as_json(properties)
        role = original_update(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        iam_backend = iam_backends[account_id][get_partition(region_name)]
        if "AssumeRolePolicyDocument" in properties:
            iam_backend.update_assume_role_policy(role.name, properties["AssumeRolePolicyDocument"])
        role.policies = {policy["PolicyName"]: policy["PolicyDocument"] for policy in properties.get("Policies", [])}
        return role

    Role.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment]
    Role.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)  # type: ignore[assignment]


def dynamodb_table_ttl_recovery_and_encryption() -> None:
    """`AWS::DynamoDB::Table`: `TimeToLiveSpecification`, `PointInTimeRecoverySpecification` and
    `SSESpecification` are applied.

    AWS enables TTL on the named attribute (DescribeTimeToLive), point-in-time recovery
    (DescribeContinuousBackups) and, for `SSEEnabled: true`, encryption with the KMS key
    (DescribeTable `SSEDescription`). moto's CloudFormation model ignored the first two and
    passed the third on as written, but its table reads the API's `Enabled` where CloudFormation
    writes `SSEEnabled`, so the table reported no encryption. Now TTL and recovery go through
    moto's UpdateTimeToLive and UpdateContinuousBackups after the table is created (moto stores
    TTL but never expires items), and `SSEEnabled` is given to the table as `Enabled`.
    """
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    original = Table.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(  # type: ignore[misc]
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        sse = properties.get("SSESpecification")
        if sse and "SSEEnabled" in sse:
            sse = {k: v for k, v in sse.items() if k != "SSEEnabled"}
            sse["Enabled"] = str(properties["SSESpecification"]["SSEEnabled"]).lower() == "true"
            properties["SSESpecification"] = sse
        table = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = dynamodb_backends[account_id][region_name]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            backend.update_time_to_live(table.name, {**ttl, "Enabled": str(ttl["Enabled"]).lower() == "true"})
        recovery = properties.get("PointInTimeRecoverySpecification")
        if recovery:
            enabled = str(recovery.get("PointInTimeRecoveryEnabled", False)).lower() == "true"
            backend.update_continuous_backups(table.name, {**recovery, "PointInTimeRecoveryEnabled": enabled})
        return table

    Table.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment]


# --- stacks -------------------------------------------------------------------------------


def change_sets_honour_depends_on() -> None:
    """A change set creates a resource's `DependsOn` resources first.

    AWS creates resources in dependency order: references and `DependsOn`. moto's CreateStack
    sorts by DependsOn, but a change set creates its added resources in template order and
    follows only references, so a resource that names a bus by a plain string (keyrot's bus
    policies and forwarding rules, with `DependsOn` the bus) was created before the bus when it
    came first. Now the resources a resource depends on are created before it.
    """
    import moto.cloudformation.parsing as parsing

    original = parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str, resource_json: Any, resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        depends_on = resource_json.get("DependsOn") or []
        for dependency in [depends_on] if isinstance(depends_on, str) else depends_on:
            _ = resources_map[dependency]
        return original(logical_id, resource_json, resources_map, account_id, region_name)

    parsing.parse_and_create_resource = parse_and_create_resource


def resource_events_and_failed_deploys() -> None:
    """Stack events per resource, and a resource that fails leaves a failed stack, not a 500.

    AWS records an event per resource (CREATE_COMPLETE, or CREATE_FAILED with the reason) and,
    when one fails, ends the operation with a failed stack status; ExecuteChangeSet itself
    succeeds (the work is asynchronous). moto recorded stack-level events only, and an error
    while creating a resource escaped ExecuteChangeSet as HTTP 500, so osls reported an XML
    parse error instead of the failing resource. Now each created/updated resource gets its
    event (with its physical id), a failure gets a `*_FAILED` event naming the resource and the
    error, and the stack ends `CREATE_FAILED`/`UPDATE_FAILED` (AWS's status when rollback is
    disabled: moto does not roll back what was created), which osls reports and exits on.
    """
    import moto.cloudformation.parsing as parsing
    from moto.cloudformation.models import CloudFormationBackend, Event, cloudformation_backends

    def stack_of(resources_map: Any, account_id: str, region_name: str) -> Any:
        return cloudformation_backends[account_id][region_name].stacks.get(resources_map.stack_id)

    def record(stack: Any, logical_id: str, resource_type: str, status: str, physical_id: str, reason: str | None) -> None:
        if stack is None:
            return
        last = stack.events[-1] if stack.events else None
        if last is not None and (last.logical_resource_id, last.resource_status, last.resource_status_reason) == (
            logical_id,
            status,
            reason,
        ):
            return  # moto retries a failed update a few times: one event is enough
        stack.events.append(
            Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=logical_id,
                physical_resource_id=physical_id,
                resource_type=resource_type,
                resource_status=status,
                resource_status_reason=reason,
                resource_properties=None,
            )
        )

    def reason_of(error: Exception) -> str:
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        return f"{type(error).__name__}: {message}"

    original_create = parsing.parse_and_create_resource
    original_update = parsing.parse_and_update_resource

    def parse_and_create_resource(
        logical_id: str, resource_json: Any, resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        stack = stack_of(resources_map, account_id, region_name)
        resource_type = resource_json.get("Type", "")
        try:
            resource = original_create(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as error:
            record(stack, logical_id, resource_type, "CREATE_FAILED", "", reason_of(error))
            raise
        if resource is not None:
            physical_id = str(getattr(resource, "physical_resource_id", "") or "")
            record(stack, logical_id, resource_type, "CREATE_COMPLETE", physical_id, None)
        return resource

    def parse_and_update_resource(
        logical_id: str, resource_json: Any, resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        stack = stack_of(resources_map, account_id, region_name)
        resource_type = resource_json.get("Type", "")
        try:
            resource = original_update(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as error:
            record(stack, logical_id, resource_type, "UPDATE_FAILED", "", reason_of(error))
            raise
        if resource is not None:
            physical_id = str(getattr(resource, "physical_resource_id", "") or "")
            record(stack, logical_id, resource_type, "UPDATE_COMPLETE", physical_id, None)
        return resource

    parsing.parse_and_create_resource = parse_and_create_resource
    parsing.parse_and_update_resource = parse_and_update_resource

    original_execute = CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        try:
            original_execute(self, change_set_name, stack_name)
        except Exception as error:
            status = f"{change_set.change_set_type}_FAILED"
            stack._add_stack_event(status, resource_status_reason=reason_of(error))
            stack.status = status
            change_set.execution_status = "EXECUTE_FAILED"

    CloudFormationBackend.execute_change_set = execute_change_set


def change_set_refreshes_outputs() -> None:
    """ExecuteChangeSet refreshes the stack's template, Outputs and exports.

    AWS: after a change set executes, DescribeStacks shows the outputs of the new template and
    ListExports its exports. moto kept the output map built when the stack was created (for a
    CREATE change set: from an empty template), so a stack deployed by change sets (as osls
    deploys) had no Outputs. Now the stack re-reads its template and outputs after each
    successful execution.
    """
    from moto.cloudformation.models import CloudFormationBackend

    original_execute = CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)
        original_execute(self, change_set_name, stack_name)
        if change_set.execution_status != "EXECUTE_COMPLETE":
            return
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        for export in stack.exports:
            self.exports[export.name] = export

    CloudFormationBackend.execute_change_set = execute_change_set


def stack_resources_lists_created_resources_only() -> None:
    """ListStackResources/DescribeStackResources list the resources the stack created.

    AWS lists each created resource once and leaves out those whose Condition is false. moto
    listed a blank row for every resource it had not created (false conditions, skipped types)
    and, to list, tried once more to create each of them, so a resource whose creation had
    failed made the listing fail too. Now only created resources are listed, with no new
    creation attempt.
    """
    from moto.cloudformation.models import Stack

    def stack_resources(self: Any) -> list[Any]:
        created = self.resource_map._parsed_resources
        return [
            created[logical_id]
            for logical_id in self.resource_map.resources
            if created.get(logical_id) is not None
        ]

    Stack.stack_resources = property(stack_resources)  # type: ignore[assignment]
