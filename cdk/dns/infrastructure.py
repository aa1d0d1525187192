"""The public hosted zone of the environment's domain, the ACM certificates under it, and the
alias records that point its names at the services."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_route53 as route53
from constructs import Construct


def alias_record(
    scope: Construct,
    id_: str,
    *,
    zone: route53.IHostedZone,
    domain_name: str,
    target_dns_name: str,
    target_zone_id: str,
    evaluate_target_health: bool | None = None,
) -> route53.CfnRecordSet:
    """The A alias record of `domain_name` in `zone` to a load balancer or a CloudFront
    distribution. The L1 record takes the target as given (an attribute, an import), so no
    custom resource looks it up at deploy time."""
    return route53.CfnRecordSet(
        scope,
        id_,
        hosted_zone_id=zone.hosted_zone_id,
        name=f"{domain_name}.",
        type="A",
        alias_target=route53.CfnRecordSet.AliasTargetProperty(
            dns_name=target_dns_name,
            hosted_zone_id=target_zone_id,
            evaluate_target_health=evaluate_target_health,
        ),
    )


class HostedZone(Construct):
    """Stateful: the zone's name servers are delegated from the parent domain once."""

    def __init__(
        self, scope: Construct, id_: str, *, domain_name: str, removal_policy: cdk.RemovalPolicy
    ) -> None:
        super().__init__(scope, id_)
        self.zone = route53.PublicHostedZone(
            self,
            "Zone",
            zone_name=domain_name,
            comment=f"{domain_name}: chat API (api.) and the web app (apex)",
        )
        self.zone.apply_removal_policy(removal_policy)


class Certificates(Construct):
    """DNS-validated certificates; ACM renews them as long as the validation records stay."""

    def __init__(
        self, scope: Construct, id_: str, *, zone: route53.IHostedZone, domain_name: str
    ) -> None:
        super().__init__(scope, id_)
        validation = acm.CertificateValidation.from_dns(zone)
        self.api = acm.Certificate(
            self,
            "Api",
            domain_name=f"api.{domain_name}",
            validation=validation,
            key_algorithm=acm.KeyAlgorithm.RSA_2048,
        )
        self.frontend = acm.Certificate(
            self,
            "Frontend",
            domain_name=domain_name,
            subject_alternative_names=[f"www.{domain_name}"],
            validation=validation,
            key_algorithm=acm.KeyAlgorithm.RSA_2048,
        )
