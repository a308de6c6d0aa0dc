"""A stand-in for the corner of the Kubernetes API that canary_gate's ingress_nginx backend uses.

No kube-apiserver can be installed on these machines (it is in neither Debian nor PyPI, and no
image registry is reachable), so the backend is tested through the real `kubernetes` Python client
against this server. It follows the API's documented behaviour for what the backend touches:
GET and PATCH of networking.k8s.io/v1 Ingresses, bearer-token authentication, RFC 6902 JSON
Patches applied all-or-nothing, a failed `test` operation answered 422, unknown objects 404 and a
wrong token 401, each with a Status object as the body.
"""

from __future__ import annotations

import copy
import http.server
import json
import re
import threading
from pathlib import Path

INGRESS_PATH = re.compile(r"^/apis/networking\.k8s\.io/v1/namespaces/([^/]+)/ingresses/([^/?]+)")


class PatchRejected(Exception):
    pass


def _pointer_tokens(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        raise PatchRejected(f"invalid JSON pointer {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def apply_json_patch(document: dict, operations: list) -> dict:
    """RFC 6902 add/replace/remove/test on objects (all the backend sends); all or nothing."""
    result = copy.deepcopy(document)
    for operation in operations:
        *parents, last = _pointer_tokens(operation["path"])
        node = result
        for token in parents:
            if not isinstance(node, dict) or token not in node:
                raise PatchRejected(f"path {operation['path']} does not exist")
            node = node[token]
        op = operation["op"]
        if op == "test":
            if node.get(last) != operation["value"]:
                raise PatchRejected(
                    f"test failed: {operation['path']} is {node.get(last)!r}, not {operation['value']!r}"
                )
        elif op == "add":
            node[last] = operation["value"]
        elif op in ("replace", "remove"):
            if last not in node:
                raise PatchRejected(f"path {operation['path']} does not exist")
            if op == "replace":
                node[last] = operation["value"]
            else:
                del node[last]
        else:
            raise PatchRejected(f"unsupported operation {op!r}")
    return result


class KubeApiStandIn:
    def __init__(self, token: str = "perfgate-gate-token"):
        self.token = token
        self.ingresses: dict[tuple[str, str], dict] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, content type
        self.refuse_patches = False  # answer 403, as RBAC would without the patch verb
        self.drop_patches = False  # answer 200 and keep the object, as a broken mutating webhook might
        self.after_read = None  # called after each GET: lets a test move the weight behind the gate's back
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_ingress(self, namespace: str, name: str, annotations: dict[str, str]) -> None:
        self.ingresses[(namespace, name)] = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": "1", "annotations": annotations},
            "spec": {"ingressClassName": "nginx"},
        }

    def annotations(self, namespace: str, name: str) -> dict[str, str]:
        return self.ingresses[(namespace, name)]["metadata"]["annotations"]

    def write_kubeconfig(self, path: Path, token: str | None = None) -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
                    "users": [{"name": "gate", "user": {"token": token or self.token}}],
                    "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "gate"}}],
                    "current-context": "standin",
                }
            )
        )
        return path

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send(
                    code,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": reason,
                        "message": message,
                        "code": code,
                    },
                )

            def _target(self):
                api.requests.append((self.command, self.path, self.headers.get("Content-Type")))
                if self.headers.get("Authorization") != f"Bearer {api.token}":
                    self._status(401, "Unauthorized", "Unauthorized")
                    return None
                match = INGRESS_PATH.match(self.path)
                key = match and (match.group(1), match.group(2))
                if not key or key not in api.ingresses:
                    self._status(404, "NotFound", f"ingresses {key[1] if key else '?'} not found")
                    return None
                return key

            def do_GET(self):
                key = self._target()
                if key:
                    with api._lock:
                        body = copy.deepcopy(api.ingresses[key])
                    self._send(200, body)
                    if api.after_read:
                        api.after_read(api)

            def do_PATCH(self):
                length = int(self.headers.get("Content-Length", 0))
                operations = json.loads(self.rfile.read(length) or b"null")
                key = self._target()
                if not key:
                    return
                if api.refuse_patches:
                    self._status(403, "Forbidden", "ingresses is forbidden: cannot patch")
                    return
                if self.headers.get("Content-Type") != "application/json-patch+json" or not isinstance(
                    operations, list
                ):
                    self._status(415, "UnsupportedMediaType", "this stand-in only takes JSON Patch")
                    return
                with api._lock:
                    try:
                        patched = apply_json_patch(api.ingresses[key], operations)
                    except PatchRejected as error:
                        self._status(422, "Invalid", str(error))
                        return
                    if not api.drop_patches:
                        version = int(patched["metadata"]["resourceVersion"]) + 1
                        patched["metadata"]["resourceVersion"] = str(version)
                        api.ingresses[key] = patched
                    body = copy.deepcopy(api.ingresses[key])
                self._send(200, body)

        return Handler
