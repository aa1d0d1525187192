"""Deploy one environment in the order of docs/architecture.md, print that plan, roll back,
smoke test (`python -m deploy`, with scripts/ on the path; see __main__).

No shell runs any step. A step is a program with its arguments (cdk, copilot, npm, git) or AWS
calls through boto3; the plan prints each as the command line an operator would type
(docs/operations.md). The first failure stops the deploy: a program's non-zero exit, an AWS
error, or a lookup that finds nothing (named in the message). A Copilot or CDK step that
outlives its time limit is stopped, and the deploy reads its stacks' status itself
(CloudFormation DescribeStacks): complete, it goes on; otherwise it stops with the stacks'
last events.

    steps            the kinds of step, the environment's settings, the lookups plans share
    plan             the deploy's plan: CDK platform, Copilot environment and services, CDK edge
    web_ui_release   the web app's Amplify release, last, where a push builds nothing
    without_copilot  the same deploy with CloudFormation alone, from Copilot's rendering
    rollback         every service back to its previous task definition
    runner           running a plan: programs with time limits, lookups, AWS calls
    smoke            the smoke test of a deployed environment's public API
"""
