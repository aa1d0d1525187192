"""moto's HTTPS proxy with the two corrections the Copilot CLI needs from moto 5.2.5.

    python -m copilot_checks.proxy -H 127.0.0.1 -p PORT

1. A stack set instance's `StackId` must name the instance's real stack: Copilot reads the
   application's regional resources (ECR repositories, KMS key, bucket) from that stack's
   outputs. moto returns a freshly generated, unknown id.
2. GetTemplateSummary returns `Metadata` as a JSON string, as AWS does; moto returns an object,
   which the Go SDK refuses to decode.

It also keeps idle client connections open longer (the proxy drops a connection after 5 s
without data, while the Go SDK reuses idle keep-alive connections, so a request sent just as
the proxy closes one fails with "connection reset by peer"), and accepts more connections at
once than the standard library's backlog of 5 (the CLI opens many in parallel).
"""

from __future__ import annotations

import json
from http.server import ThreadingHTTPServer

from moto import proxy
from moto.cloudformation import models, responses
from moto.moto_proxy.proxy3 import ProxyRequestHandler

IDLE_CONNECTION_SECONDS = 300
LISTEN_BACKLOG = 128

_template_summary = responses.get_template_summary_response_from_template


def _template_summary_with_metadata_string(template_body: str) -> dict:
    summary = _template_summary(template_body)
    if isinstance(summary.get("Metadata"), dict):
        summary["Metadata"] = json.dumps(summary["Metadata"])
    return summary


_instance_to_dict = models.StackInstance.to_dict


def _instance_to_dict_with_stack_id(self) -> dict:
    result = _instance_to_dict(self)
    result["StackId"] = self.stack.stack_id
    return result


def apply_corrections() -> None:
    responses.get_template_summary_response_from_template = _template_summary_with_metadata_string
    models.StackInstance.to_dict = _instance_to_dict_with_stack_id
    ProxyRequestHandler.timeout = IDLE_CONNECTION_SECONDS
    ThreadingHTTPServer.request_queue_size = LISTEN_BACKLOG


if __name__ == "__main__":
    apply_corrections()
    proxy.main()
