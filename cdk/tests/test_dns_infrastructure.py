from conftest import only, resources_of


def test_hosted_zone_for_the_environments_domain(dev, prod):
    zone = only(prod.template("PlatformStateful"), "AWS::Route53::HostedZone")
    assert zone["Properties"]["Name"] == "chatbot.muykol.com."
    zone = only(dev.template("PlatformStateful"), "AWS::Route53::HostedZone")
    assert zone["Properties"]["Name"] == "dev.chatbot.muykol.com."


def test_certificates_for_api_and_frontend_are_dns_validated(prod):
    certificates = resources_of(
        prod.template("PlatformStateless"), "AWS::CertificateManager::Certificate"
    )
    by_name = {c["Properties"]["DomainName"]: c["Properties"] for c in certificates.values()}
    assert set(by_name) == {"api.chatbot.muykol.com", "chatbot.muykol.com"}
    assert by_name["chatbot.muykol.com"]["SubjectAlternativeNames"] == ["www.chatbot.muykol.com"]
    for certificate in by_name.values():
        assert certificate["ValidationMethod"] == "DNS"
        (option,) = certificate["DomainValidationOptions"][:1]
        assert "HostedZoneId" in option
