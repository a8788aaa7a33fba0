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
`AWS::Scheduler::Schedule`, `AWS::S3::BucketPolicy`, `AWS::Lambda::EventInvokeConfig`; for
examples/protected-api: `AWS::SecretsManager::Secret`, `AWS::ApiGateway::Stage`,
`AWS::ApiGateway::UsagePlan`, `AWS::ApiGateway::ApiKey`, `AWS::ApiGateway::UsagePlanKey`,
`AWS::CloudFront::Distribution`. Also resolved: `{{resolve:secretsmanager:...}}` dynamic
references, at each create and update of the resource holding one, as on AWS.

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
    add_api_edge_and_secret_resource_types()
    apigateway_deployment_ref_is_its_id()
    apigateway_method_any_integration()
    resolve_secretsmanager_dynamic_references()
    removed_resources_honour_deletion_policy()
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


# --- the example's API and distribution (examples/protected-api, issue 15) ------------------


def add_api_edge_and_secret_resource_types() -> None:
    """Defines the models examples/protected-api needs and moto skipped (see the classes below):
    `AWS::SecretsManager::Secret`, `AWS::ApiGateway::Stage`, `AWS::ApiGateway::UsagePlan`,
    `AWS::ApiGateway::ApiKey`, `AWS::ApiGateway::UsagePlanKey`, `AWS::CloudFront::Distribution`.

    AWS creates each and updates it when its template properties change; moto logged "No Moto
    CloudFormation support", created nothing, and resolved a `Ref` to it to nothing (the usage
    plan, key and distribution a user's stack owns did not exist). Each model calls the backend
    method the matching API call uses, so what it creates reads back through GetUsagePlanKeys,
    GetDistributionConfig, GetSecretValue, ... An update changes the resource in place where AWS
    does (a new DistributionConfig, a usage plan's description) and replaces it where AWS does
    (a key's Value or Name), honouring `UpdateReplacePolicy: Retain` for the replaced resource.
    """
    import uuid

    from moto.apigateway.models import apigateway_backends
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudfront.models import cloudfront_backends
    from moto.core.common_models import CloudFormationModel
    from moto.moto_api._internal import mock_random
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.utilities.utils import get_partition

    def flag(value: Any, default: bool = False) -> bool:
        return default if value is None else str(value).lower() == "true"

    def retained_on_replace(cloudformation_json: Any) -> bool:
        return cloudformation_json.get("UpdateReplacePolicy") == "Retain"

    class Base:
        """Physical id, no name property, replacement on update (a mixin, as `Common` above)."""

        physical_id = ""

        @property
        def physical_resource_id(self) -> str:
            return self.physical_id

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return False

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            raise UnformattedGetAttTemplateException()

        @classmethod
        def replace(
            cls, original: Any, new_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> Any:
            # AWS creates the replacement, then deletes the old resource unless it is retained.
            created = cls.create_from_cloudformation_json(new_name, cloudformation_json, account_id, region_name)
            if not retained_on_replace(cloudformation_json):
                original.delete(account_id, region_name)
            return created

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> Any:
            return cls.replace(original_resource, new_resource_name, cloudformation_json, account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> None:
            pass

        def delete(self, account_id: str, region_name: str) -> None:
            pass

        def is_created(self) -> bool:
            return True

    class SecretsManagerSecret(Base, CloudFormationModel):
        """`AWS::SecretsManager::Secret`: CreateSecret with Name (or a generated one),
        Description, KmsKeyId, Tags and `SecretString` or a value made by GetRandomPassword from
        `GenerateSecretString` (PasswordLength, Exclude*, IncludeSpace, RequireEachIncludedType;
        with SecretStringTemplate + GenerateStringKey, the password goes into that JSON). Ref is
        the ARN, GetAtt Id too. An update keeps the secret (and its current value, as AWS keeps a
        generated one) and applies a new Description/KmsKeyId, and a changed SecretString as a new
        AWSCURRENT version; a new Name replaces it. Deleted without a recovery window."""

        __module__ = MOTO_MODULE

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
            if attribute_name == "Id":
                return self.physical_id
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "SecretsManagerSecret":
            p = cloudformation_json["Properties"]
            backend = secretsmanager_backends[account_id][region_name]
            value = p.get("SecretString")
            generate = p.get("GenerateSecretString")
            if value is None and generate is not None:
                password = json.loads(
                    backend.get_random_password(
                        password_length=int(generate.get("PasswordLength", 32)),
                        exclude_characters=generate.get("ExcludeCharacters", ""),
                        exclude_numbers=flag(generate.get("ExcludeNumbers")),
                        exclude_punctuation=flag(generate.get("ExcludePunctuation")),
                        exclude_uppercase=flag(generate.get("ExcludeUppercase")),
                        exclude_lowercase=flag(generate.get("ExcludeLowercase")),
                        include_space=flag(generate.get("IncludeSpace")),
                        require_each_included_type=flag(generate.get("RequireEachIncludedType"), True),
                    )
                )["RandomPassword"]
                template = generate.get("SecretStringTemplate")
                if template is not None:
                    document = json.loads(template)
                    document[generate["GenerateStringKey"]] = password
                    value = json.dumps(document)
                else:
                    value = password
            created = backend.create_secret(
                name=resource_name,
                secret_string=value,
                secret_binary=None,
                description=p.get("Description"),
                tags=p.get("Tags"),
                kms_key_id=p.get("KmsKeyId"),
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
            secret = cls()
            secret.physical_id = json.loads(created)["ARN"] if isinstance(created, str) else created["ARN"]
            secret.name = resource_name
            secret.secret_string = p.get("SecretString")
            return secret

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> Any:
            p = cloudformation_json["Properties"]
            if "Name" in p and p["Name"] != original_resource.name:
                return cls.replace(original_resource, new_resource_name, cloudformation_json, account_id, region_name)
            backend = secretsmanager_backends[account_id][region_name]
            stored = backend.secrets[original_resource.physical_id]
            stored.description = p.get("Description")
            if p.get("KmsKeyId"):
                stored.kms_key_id = p["KmsKeyId"]
            value = p.get("SecretString")
            if value is not None and value != original_resource.secret_string:
                backend.put_secret_value(
                    secret_id=original_resource.physical_id,
                    secret_string=value,
                    secret_binary=None,
                    client_request_token=None,
                    version_stages=["AWSCURRENT"],
                )
                original_resource.secret_string = value
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            backend = secretsmanager_backends[account_id][region_name]
            if self.physical_id in backend.secrets:
                backend.delete_secret(self.physical_id, None, True)

    class ApiGatewayStage(Base, CloudFormationModel):
        """`AWS::ApiGateway::Stage`: CreateStage (StageName, DeploymentId, Description,
        Variables, TracingEnabled, Tags); Ref is the stage name. An update changes the stage in
        place (a new DeploymentId, description, variables); a new StageName replaces it."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGateway::Stage"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "ApiGatewayStage":
            p = cloudformation_json["Properties"]
            apigateway_backends[account_id][region_name].create_stage(
                p["RestApiId"],
                p["StageName"],
                deploymentId=p["DeploymentId"],
                variables=p.get("Variables"),
                description=p.get("Description", ""),
                tags={t["Key"]: t["Value"] for t in p.get("Tags", [])},
                tracing_enabled=flag(p.get("TracingEnabled")),
            )
            stage = cls()
            stage.physical_id = p["StageName"]
            stage.rest_api_id = p["RestApiId"]
            return stage

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> Any:
            p = cloudformation_json["Properties"]
            if (p["StageName"], p["RestApiId"]) != (original_resource.physical_id, original_resource.rest_api_id):
                return cls.replace(original_resource, new_resource_name, cloudformation_json, account_id, region_name)
            stored = apigateway_backends[account_id][region_name].get_stage(p["RestApiId"], p["StageName"])
            stored.deployment_id = p["DeploymentId"]
            stored.description = p.get("Description", "")
            stored.variables = p.get("Variables") or {}
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            apigateway_backends[account_id][region_name].delete_stage(self.rest_api_id, self.physical_id)

    def usage_plan_payload(p: dict[str, Any]) -> dict[str, Any]:
        throttle = lambda t: {  # noqa: E731
            **({"burstLimit": int(t["BurstLimit"])} if "BurstLimit" in t else {}),
            **({"rateLimit": float(t["RateLimit"])} if "RateLimit" in t else {}),
        }
        quota = p.get("Quota")
        return {
            "name": p.get("UsagePlanName"),
            "description": p.get("Description"),
            "apiStages": [
                {"apiId": s["ApiId"], "stage": s["Stage"], **({"throttle": s["Throttle"]} if "Throttle" in s else {})}
                for s in p.get("ApiStages", [])
            ],
            "throttle": throttle(p.get("Throttle") or {}),
            "quota": {k[0].lower() + k[1:]: v for k, v in quota.items()} if quota else {},
            "tags": {t["Key"]: t["Value"] for t in p.get("Tags", [])},
        }

    class UsagePlan(Base, CloudFormationModel):
        """`AWS::ApiGateway::UsagePlan`: CreateUsagePlan (UsagePlanName, Description, ApiStages,
        Throttle, Quota, Tags); Ref is its id. An update changes the plan in place, keeping its
        id and its keys (AWS updates a usage plan without replacement)."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGateway::UsagePlan"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "UsagePlan":
            payload = usage_plan_payload(cloudformation_json["Properties"])
            payload["name"] = payload["name"] or resource_name
            created = apigateway_backends[account_id][region_name].create_usage_plan(payload)
            plan = cls()
            plan.physical_id = created.id
            return plan

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> Any:
            payload = usage_plan_payload(cloudformation_json["Properties"])
            stored = apigateway_backends[account_id][region_name].get_usage_plan(original_resource.physical_id)
            stored.name = payload["name"] or stored.name
            stored.description = payload["description"]
            stored.api_stages = payload["apiStages"]
            stored.throttle = payload["throttle"]
            stored.quota = payload["quota"]
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            backend = apigateway_backends[account_id][region_name]
            backend.usage_plans.pop(self.physical_id, None)
            backend.usage_plan_keys.pop(self.physical_id, None)

    class ApiKey(Base, CloudFormationModel):
        """`AWS::ApiGateway::ApiKey`: CreateApiKey (Name, Description, Enabled, Value,
        CustomerId, StageKeys, Tags); Ref is the key id. An update of Description, Enabled or
        CustomerId changes the key in place; a new Value or Name replaces it (AWS: "Update
        requires: Replacement"), the old key deleted unless `UpdateReplacePolicy: Retain`.
        Deleting an already-deleted key (keyrot retires the first key) succeeds, as on AWS."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGateway::ApiKey"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "ApiKey":
            p = cloudformation_json["Properties"]
            payload = {
                "name": resource_name,
                "description": p.get("Description"),
                "enabled": flag(p.get("Enabled")),
                "customerId": p.get("CustomerId"),
                "stageKeys": [
                    {"restApiId": s.get("RestApiId"), "stageName": s.get("StageName")} for s in p.get("StageKeys", [])
                ],
                "tags": {t["Key"]: t["Value"] for t in p.get("Tags", [])},
                **({"value": p["Value"]} if p.get("Value") else {}),
            }
            created = apigateway_backends[account_id][region_name].create_api_key(payload)
            key = cls()
            key.physical_id = created.id
            key.name = resource_name
            key.value_given = p.get("Value")
            return key

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> Any:
            p = cloudformation_json["Properties"]
            if p.get("Value") != original_resource.value_given or p.get("Name", original_resource.name) != original_resource.name:
                return cls.replace(original_resource, new_resource_name, cloudformation_json, account_id, region_name)
            stored = apigateway_backends[account_id][region_name].keys.get(original_resource.physical_id)
            if stored is not None:
                stored.description = p.get("Description")
                stored.enabled = flag(p.get("Enabled"))
                stored.customer_id = p.get("CustomerId")
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            backend = apigateway_backends[account_id][region_name]
            if self.physical_id in backend.keys:
                backend.delete_api_key(self.physical_id)
            for plan_keys in backend.usage_plan_keys.values():
                plan_keys.pop(self.physical_id, None)

    class UsagePlanKey(Base, CloudFormationModel):
        """`AWS::ApiGateway::UsagePlanKey`: CreateUsagePlanKey (UsagePlanId, KeyId, KeyType);
        Ref is the key id. Any change replaces it. Deleting it when the key is already off the
        plan (keyrot deleted it) succeeds."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::ApiGateway::UsagePlanKey"

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "UsagePlanKey":
            p = cloudformation_json["Properties"]
            apigateway_backends[account_id][region_name].create_usage_plan_key(
                p["UsagePlanId"], {"keyId": p["KeyId"], "keyType": p["KeyType"]}
            )
            plan_key = cls()
            plan_key.physical_id = p["KeyId"]
            plan_key.usage_plan_id = p["UsagePlanId"]
            return plan_key

        def delete(self, account_id: str, region_name: str) -> None:
            backend = apigateway_backends[account_id][region_name]
            backend.usage_plan_keys.get(self.usage_plan_id, {}).pop(self.physical_id, None)

    class Distribution(Base, CloudFormationModel):
        """`AWS::CloudFront::Distribution`: CreateDistribution with the template's
        DistributionConfig (CloudFormation's shape turned into the API's: lists become
        Quantity/Items, `OriginCustomHeaders` become `CustomHeaders`, `OriginSSLProtocols`
        `OriginSslProtocols`, `IPV6Enabled` `IsIPV6Enabled`); Ref is the id, GetAtt DomainName
        and Id. An update is an UpdateDistribution with the template's whole DistributionConfig
        (custom origin headers included, as CloudFormation sends it), keeping the id and the
        CallerReference; like CloudFront, it gives the distribution a new ETag, a new
        LastModifiedTime and status `InProgress` (moto's UpdateDistribution kept the ETag: the
        local AWS front, harness/deployed/aws-front.ts, reads the new ETag as an update made
        outside it and runs its propagation window from LastModifiedTime)."""

        __module__ = MOTO_MODULE

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudFront::Distribution"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("DomainName", "Id")

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            if attribute_name == "Id":
                return self.physical_id
            if attribute_name == "DomainName":
                return self.domain_name
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "Distribution":
            p = cloudformation_json["Properties"]
            config = distribution_config_of(p["DistributionConfig"], str(uuid.uuid4()))
            backend = cloudfront_backends[account_id][get_partition(region_name)]
            created, _, _ = backend.create_distribution(config, p.get("Tags", []))
            distribution = cls()
            distribution.physical_id = created.distribution_id
            distribution.domain_name = created.domain_name
            distribution.caller_reference = config["CallerReference"]
            return distribution

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc]
            cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> Any:
            p = cloudformation_json["Properties"]
            config = distribution_config_of(p["DistributionConfig"], original_resource.caller_reference)
            backend = cloudfront_backends[account_id][get_partition(region_name)]
            updated, _, _ = backend.update_distribution(config, original_resource.physical_id, True)
            updated.etag = mock_random.get_random_hex(13).upper()
            updated.last_modified_time = utc_now_iso()
            updated._status = "InProgress"
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            backend = cloudfront_backends[account_id][get_partition(region_name)]
            backend.distributions.pop(self.physical_id, None)

    _ADDED_MODELS.extend([SecretsManagerSecret, ApiGatewayStage, UsagePlan, ApiKey, UsagePlanKey, Distribution])


def utc_now_iso() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def distribution_config_of(cfn: dict[str, Any], caller_reference: str) -> dict[str, Any]:
    """A CloudFormation DistributionConfig in the shape of the CloudFront API (and of moto's backend)."""

    def items(values: list[Any]) -> dict[str, Any]:
        return {"Quantity": len(values), "Items": values}

    def origin(o: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in o.items() if k not in ("OriginCustomHeaders", "CustomOriginConfig", "S3OriginConfig")}
        out["CustomHeaders"] = items(
            [{"HeaderName": h["HeaderName"], "HeaderValue": h["HeaderValue"]} for h in o.get("OriginCustomHeaders", [])]
        )
        custom = o.get("CustomOriginConfig")
        if custom is not None:
            out["CustomOriginConfig"] = {
                "HTTPPort": int(custom.get("HTTPPort", 80)),
                "HTTPSPort": int(custom.get("HTTPSPort", 443)),
                "OriginProtocolPolicy": custom["OriginProtocolPolicy"],
                "OriginSslProtocols": items(custom.get("OriginSSLProtocols", ["TLSv1", "SSLv3"])),
                "OriginReadTimeout": int(custom.get("OriginReadTimeout", 30)),
                "OriginKeepaliveTimeout": int(custom.get("OriginKeepaliveTimeout", 5)),
            }
        if "S3OriginConfig" in o:
            out["S3OriginConfig"] = {"OriginAccessIdentity": o["S3OriginConfig"].get("OriginAccessIdentity", "")}
        return out

    def behaviour(b: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in b.items() if k not in ("AllowedMethods", "CachedMethods")}
        if "AllowedMethods" in b:
            out["AllowedMethods"] = {
                **items(b["AllowedMethods"]),
                "CachedMethods": items(b.get("CachedMethods", ["GET", "HEAD"])),
            }
        return out

    config: dict[str, Any] = {
        k: v
        for k, v in cfn.items()
        if k not in ("Origins", "DefaultCacheBehavior", "CacheBehaviors", "Aliases", "IPV6Enabled", "Logging")
    }
    config["CallerReference"] = caller_reference
    config["Comment"] = cfn.get("Comment", "")
    config["Enabled"] = str(cfn.get("Enabled", True)).lower() == "true"
    config["Origins"] = items([origin(o) for o in cfn.get("Origins", [])])
    config["DefaultCacheBehavior"] = behaviour(cfn["DefaultCacheBehavior"])
    if cfn.get("CacheBehaviors"):
        config["CacheBehaviors"] = items([behaviour(b) for b in cfn["CacheBehaviors"]])
    if cfn.get("Aliases"):
        config["Aliases"] = items(cfn["Aliases"])
    if "IPV6Enabled" in cfn:
        config["IsIPV6Enabled"] = str(cfn["IPV6Enabled"]).lower() == "true"
    if "Logging" in cfn:
        config["Logging"] = {"Enabled": True, **cfn["Logging"]}
    return config


def apigateway_deployment_ref_is_its_id() -> None:
    """`AWS::ApiGateway::Deployment`: Ref is the deployment id.

    AWS: Ref returns the deployment id, which an `AWS::ApiGateway::Stage` takes as DeploymentId.
    moto's Deployment had no physical id, so the Ref resolved to the Python object. Now Ref is
    the id.
    """
    from moto.apigateway.models import Deployment

    Deployment.physical_resource_id = property(lambda self: self.id)  # type: ignore[attr-defined]


SECRETSMANAGER_REFERENCE = None  # compiled in resolve_secretsmanager_dynamic_references


def resolve_secretsmanager_dynamic_references() -> None:
    """`{{resolve:secretsmanager:...}}` in a resource's properties is replaced by the secret's value
    each time the resource is created or updated.

    AWS: a dynamic reference `{{resolve:secretsmanager:<name-or-ARN>:SecretString[:<json-key>
    [:<version-stage>[:<version-id>]]]}}` is resolved when CloudFormation creates or updates the
    resource that holds it, to the AWSCURRENT value unless a stage or version id is named (a
    JSON key picks one field of a JSON secret); the template keeps the reference, and since a
    resource is updated only when its template properties change, a secret changed later is
    not noticed until then. A secret named by ARN is read in the ARN's account and region, by
    name in the stack's. moto resolved none: the literal text `{{resolve:...}}` became the API
    key's value and the origin header. Now the references are resolved in the properties moto
    passes to the model's create/update (after Ref/Fn::Sub), never in the stored template, so
    moto's change-set diff still compares references, not values, as AWS does. A reference to
    a missing secret, version or JSON key fails the resource. `ssm`/`ssm-secure` references are
    still not resolved (nothing of keyrot's uses them).
    """
    import re

    import moto.cloudformation.parsing as parsing
    from moto.secretsmanager.models import secretsmanager_backends

    pattern = re.compile(r"\{\{resolve:secretsmanager:([^}]+)\}\}")
    original = parsing.parse_resource

    def value_of(reference: str, account_id: str, region_name: str) -> str:
        parts = reference.split(":")
        if parts[0] == "arn":
            secret_id, rest = ":".join(parts[:7]), parts[7:]
            region_name, account_id = parts[3], parts[4]
        else:
            secret_id, rest = parts[0], parts[1:]
        rest += [""] * (4 - len(rest))
        field, json_key, version_stage, version_id = rest[:4]
        if field not in ("", "SecretString"):
            raise ValueError(f"dynamic reference to {secret_id}: only SecretString can be referenced, not {field}")
        backend = secretsmanager_backends[account_id][region_name]
        secret = backend.get_secret_value(
            secret_id, version_id or None, version_stage or (None if version_id else "AWSCURRENT")
        )
        value = secret["SecretString"]
        if json_key:
            document = json.loads(value)
            if json_key not in document:
                raise ValueError(f"dynamic reference to {secret_id}: the secret has no JSON key {json_key}")
            value = str(document[json_key])
        return value

    def resolve(value: Any, account_id: str, region_name: str) -> Any:
        if isinstance(value, str) and "{{resolve:secretsmanager:" in value:
            return pattern.sub(lambda m: value_of(m.group(1), account_id, region_name), value)
        if isinstance(value, dict):
            return {k: resolve(v, account_id, region_name) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, account_id, region_name) for v in value]
        return value

    def parse_resource(resource_json: dict[str, Any], resources_map: Any) -> Any:
        parsed = original(resource_json, resources_map)
        if not parsed:
            return parsed
        resource_class, cleaned, resource_type = parsed
        if "Properties" in cleaned:
            cleaned = {
                **cleaned,
                "Properties": resolve(cleaned["Properties"], resources_map._account_id, resources_map._region_name),
            }
        return resource_class, cleaned, resource_type

    parsing.parse_resource = parse_resource


def removed_resources_honour_deletion_policy() -> None:
    """A resource removed from the template by a stack update is kept when its DeletionPolicy is
    `Retain`.

    AWS: DeletionPolicy applies whenever CloudFormation would delete the resource: at stack
    deletion and when an update removes it from the template (it leaves the stack, the resource
    stays). moto honoured it only at stack deletion and deleted a removed resource. Now an
    update leaves a retained resource in place. (UpdateReplacePolicy is honoured by the models
    that replace on update, see add_api_edge_and_secret_resource_types.)
    """
    from moto.cloudformation.parsing import ResourceMap

    original = ResourceMap._delete_resource

    def _delete_resource(self: Any, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
        if resource_json.get("DeletionPolicy") == "Retain":
            return
        original(self, parsed_resource, resource_json)

    ResourceMap._delete_resource = _delete_resource  # type: ignore[method-assign]


def apigateway_method_any_integration() -> None:
    """`AWS::ApiGateway::Method`: an integration without a URI (MOCK), its request templates, and
    the method's and integration's responses are created.

    AWS creates the method, its `Integration` (Type, and for HTTP/AWS types also
    IntegrationHttpMethod and Uri; RequestTemplates, IntegrationResponses) and its
    `MethodResponses`. moto read `IntegrationHttpMethod` and `Uri` unconditionally, so a MOCK
    integration (the example's) failed with KeyError, and it dropped the templates and every
    response. Now those are optional and the rest is put as PutIntegration,
    PutIntegrationResponse and PutMethodResponse do.
    """
    from moto.apigateway.models import Method, apigateway_backends

    def create_from_cloudformation_json(  # type: ignore[misc]
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        p = cloudformation_json["Properties"]
        backend = apigateway_backends[account_id][region_name]
        api, resource, verb = p["RestApiId"], p["ResourceId"], p["HttpMethod"]
        method = backend.put_method(
            function_id=api,
            resource_id=resource,
            method_type=verb,
            authorization_type=p.get("AuthorizationType", "NONE"),
            api_key_required=str(p.get("ApiKeyRequired", False)).lower() == "true",
            request_parameters=p.get("RequestParameters"),
            authorizer_id=p.get("AuthorizerId"),
        )
        integration = p.get("Integration")
        if integration is not None:
            backend.put_integration(
                function_id=api,
                resource_id=resource,
                method_type=verb,
                integration_type=integration["Type"],
                uri=integration.get("Uri"),
                integration_method=integration.get("IntegrationHttpMethod"),
                credentials=integration.get("Credentials"),
                request_templates=integration.get("RequestTemplates"),
                passthrough_behavior=integration.get("PassthroughBehavior"),
                request_parameters=integration.get("RequestParameters"),
            )
            for response in integration.get("IntegrationResponses", []):
                backend.put_integration_response(
                    function_id=api,
                    resource_id=resource,
                    method_type=verb,
                    status_code=str(response["StatusCode"]),
                    selection_pattern=response.get("SelectionPattern"),
                    response_templates=response.get("ResponseTemplates") or {},
                    response_parameters=response.get("ResponseParameters") or {},
                )
        for response in p.get("MethodResponses", []):
            backend.put_method_response(
                function_id=api,
                resource_id=resource,
                method_type=verb,
                response_code=str(response["StatusCode"]),
                response_models=response.get("ResponseModels") or {},
                response_parameters=response.get("ResponseParameters") or {},
            )
        return method

    Method.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment]
