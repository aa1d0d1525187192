"""`make rollback`: every service back to the task definition it ran before the latest deploy."""

from __future__ import annotations

from collections.abc import Callable

from deploy.steps import APP, SERVICES, Call, Context, DeployError, Step, environment, export_lookup


def rollback_plan(env: str) -> list[Step]:
    environment(env)  # an unknown environment stops here, before any lookup
    cluster_export = f"{APP}-{env}-ClusterId"
    steps: list[Step] = [
        export_lookup("The environment's ECS cluster", "CLUSTER", cluster_export),
    ]
    for service in SERVICES:
        stack = f"{APP}-{env}-{service}"
        steps.append(
            Call(
                f"{service}: the previous task definition revision, until the service is stable",
                (
                    f'service="$(aws cloudformation describe-stack-resource --stack-name {stack} '
                    "--logical-resource-id Service --query StackResourceDetail.PhysicalResourceId "
                    '--output text)"',
                    'current="$(aws ecs describe-services --cluster "$CLUSTER" --services '
                    '"$service" --query \'services[0].taskDefinition\' --output text)"',
                    'aws ecs update-service --cluster "$CLUSTER" --service "$service" '
                    '--task-definition "${current%:*}:$(( ${current##*:} - 1 ))"',
                    'aws ecs wait services-stable --cluster "$CLUSTER" --services "$service"',
                ),
                _roll_back(stack),
            )
        )
    return steps


def _roll_back(stack: str) -> Callable[[Context], None]:
    def call(context: Context) -> None:
        cluster = context.values["CLUSTER"]
        resource = context.client("cloudformation").describe_stack_resource(
            StackName=stack, LogicalResourceId="Service"
        )["StackResourceDetail"]
        service = resource.get("PhysicalResourceId")
        if not service:
            raise DeployError(f"stack {stack} has no physical id for its Service")
        ecs = context.client("ecs")
        services = ecs.describe_services(cluster=cluster, services=[service])["services"]
        if not services:
            raise DeployError(f"service {service} is not in cluster {cluster}")
        current = services[0]["taskDefinition"]
        family, revision = current.rsplit(":", 1)
        if int(revision) <= 1:
            raise DeployError(f"{current} is the first revision: there is nothing to go back to")
        previous = f"{family}:{int(revision) - 1}"
        ecs.update_service(cluster=cluster, service=service, taskDefinition=previous)
        print(f"    {service}: {current} -> {previous}", flush=True)
        ecs.get_waiter("services_stable").wait(cluster=cluster, services=[service])

    return call
