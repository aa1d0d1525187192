"""The web app's Amplify build, started by the deploy where a push builds nothing
(`web_ui_auto_build` in cdk/cdk.json, the setting the CDK edge stack gives the Amplify branch),
and the wait for it."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable

from deploy.steps import (
    APP,
    Call,
    Context,
    DeployError,
    Step,
    Var,
    export_lookup,
    limit_seconds,
)

WEB_UI_APP_EXPORT = "{app}-{env}-FrontendAppId"
# How often the job's status is read, and the statuses that end it (Amplify's job statuses;
# CANCELLING is still on its way to CANCELLED).
AMPLIFY_POLL_SECONDS = 15
AMPLIFY_SUCCEEDED = "SUCCEED"
AMPLIFY_FAILED = ("FAILED", "CANCELLED")


def amplify_console_url(region: str, app_id: str, branch: str, job_id: str) -> str:
    """The job's page in the Amplify console (its build and deploy logs)."""
    console = f"https://{region}.console.aws.amazon.com/amplify/home?region={region}"
    return f"{console}#/{app_id}/{branch}/{job_id}"


def wait_for_web_ui_job(
    context: Context,
    app_id: str,
    branch: str,
    job_id: str,
    *,
    time_limit: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Read the Amplify job's status until it succeeds (returns SUCCEED); a failed or cancelled
    job, or one still going after `time_limit` seconds, stops the deploy with the job's id, its
    status and its console page. A job past the limit is left running: its logs stay readable."""
    amplify = context.client("amplify")
    deadline = clock() + time_limit
    last = None
    while True:
        job = amplify.get_job(appId=app_id, branchName=branch, jobId=job_id)
        status = job["job"]["summary"]["status"]
        if status != last:
            print(f"    Amplify job {job_id}: {status}", flush=True)
            last = status
        if status == AMPLIFY_SUCCEEDED:
            return status
        where = amplify_console_url(context.region, app_id, branch, job_id)
        if status in AMPLIFY_FAILED:
            raise DeployError(f"Amplify job {job_id} of {app_id}/{branch} is {status}: {where}")
        remaining = deadline - clock()
        if remaining <= 0:
            raise DeployError(
                f"Amplify job {job_id} of {app_id}/{branch} is still {status} after "
                f"{time_limit:g} s: {where}"
            )
        sleep(min(AMPLIFY_POLL_SECONDS, remaining))


def _release_web_ui(env: str, branch: str, app_id: Var, tag: Var) -> Callable[[Context], None]:
    def call(context: Context) -> None:
        amplify = context.client("amplify")
        reason = f"make deploy ENV={env}"
        if tag.name in context.values:
            reason += f" at {context.values[tag.name]}"
        app = context.values[app_id.name]
        started = amplify.start_job(
            appId=app, branchName=branch, jobType="RELEASE", jobReason=reason
        )["jobSummary"]
        print(f"    {amplify_console_url(context.region, app, branch, started['jobId'])}")
        wait_for_web_ui_job(
            context, app, branch, started["jobId"], time_limit=limit_seconds("amplify")
        )

    return call


def web_ui_release_steps(env: str, settings: dict) -> list[Step]:
    """Where a push builds nothing, the deploy builds and publishes the web app itself, last:
    its pages talk to the services the earlier steps deployed and the smoke test checked."""
    if settings["web_ui_auto_build"]:
        return []
    branch = settings["web_ui_branch"]
    app_id, tag = Var("FRONTEND_APP_ID"), Var("IMAGE_TAG")
    job = f'--app-id "${app_id.name}" --branch-name {shlex.quote(branch)}'
    waiting = "PENDING|PROVISIONING|RUNNING|CANCELLING"
    return [
        export_lookup(
            "The web app's Amplify app (the edge stack's)",
            app_id.name,
            WEB_UI_APP_EXPORT.format(app=APP, env=env),
        ),
        Call(
            f"Web app: Amplify builds and publishes {branch} (a RELEASE job), until it succeeds",
            (
                f'job_id="$(aws amplify start-job {job} --job-type RELEASE '
                f'--job-reason "make deploy ENV={env} at ${tag.name}" '
                '--query jobSummary.jobId --output text)"',
                f'while status="$(aws amplify get-job {job} --job-id "$job_id" '
                '--query job.summary.status --output text)" && '
                f'case "$status" in {waiting}) true;; *) false;; esac; '
                f"do sleep {AMPLIFY_POLL_SECONDS}; done",
                f'test "$status" = {AMPLIFY_SUCCEEDED}',
            ),
            _release_web_ui(env, branch, app_id, tag),
        ),
    ]
