"""A stand-in for the corner of the Kubernetes API that canary_gate's ingress_nginx and
gateway_api backends use.

No kube-apiserver can be installed on these machines (it is in neither Debian nor PyPI, and no
image registry is reachable), so the backends are tested through the real `kubernetes` Python
client against this server. It follows the API's documented behaviour for what they touch: GET
and PATCH of networking.k8s.io/v1 Ingresses and of gateway.networking.k8s.io/v1 HTTPRoutes (a
custom resource, served under /apis/<group>/<version>), bearer-token authentication, RFC 6902
JSON Patches (object members and array indices) applied all-or-nothing, a failed `test`
operation answered 422, unknown objects 404 and a wrong token 401, each with a Status object as
the body.
"""

from __future__ import annotations

import copy
import http.server
import json
import re
import threading
from pathlib import Path

OBJECT_PATH = re.compile(
    r"^/apis/(?P<api>networking\.k8s\.io/v1|gateway\.networking\.k8s\.io/v1)"
    r"/namespaces/(?P<namespace>[^/]+)/(?P<plural>ingresses|httproutes)/(?P<name>[^/?]+)"
)
SERVED = {("networking.k8s.io/v1", "ingresses"), ("gateway.networking.k8s.io/v1", "httproutes")}


class PatchRejected(Exception):
    pass


def _pointer_tokens(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        raise PatchRejected(f"invalid JSON pointer {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _child(node, token: str, path: str):
    if isinstance(node, dict) and token in node:
        return node[token]
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    raise PatchRejected(f"path {path} does not exist")


def apply_json_patch(document: dict, operations: list) -> dict:
    """RFC 6902 add/replace/remove/test on object members and array elements; all or nothing."""
    result = copy.deepcopy(document)
    for operation in operations:
        path = operation["path"]
        *parents, last = _pointer_tokens(path)
        node = result
        for token in parents:
            node = _child(node, token, path)
        op = operation["op"]
        if op == "test":
            missing = object()
            try:
                current = _child(node, last, path)
            except PatchRejected:
                current = missing
            if current is missing or current != operation["value"]:
                shown = "absent" if current is missing else repr(current)
                raise PatchRejected(f"test failed: {path} is {shown}, not {operation['value']!r}")
        elif op == "add":
            if isinstance(node, list):
                index = len(node) if last == "-" else int(last)
                if index > len(node):
                    raise PatchRejected(f"path {path} is past the end of the array")
                node.insert(index, operation["value"])
            elif isinstance(node, dict):
                node[last] = operation["value"]
            else:
                raise PatchRejected(f"path {path} does not exist")
        elif op in ("replace", "remove"):
            _child(node, last, path)
            key = int(last) if isinstance(node, list) else last
            if op == "replace":
                node[key] = operation["value"]
            else:
                del node[key]
        else:
            raise PatchRejected(f"unsupported operation {op!r}")
    return result


class KubeApiStandIn:
    def __init__(self, token: str = "perfgate-gate-token"):
        self.token = token
        self.ingresses: dict[tuple[str, str], dict] = {}
        self.routes: dict[tuple[str, str], dict] = {}  # HTTPRoutes
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

    def add_route(self, namespace: str, name: str, rules: list[dict]) -> None:
        self.routes[(namespace, name)] = {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": "1"},
            "spec": {"parentRefs": [{"name": "perfgate-bench"}], "rules": rules},
        }

    def backend_refs(self, namespace: str, name: str, rule: int = 0) -> list[dict]:
        return self.routes[(namespace, name)]["spec"]["rules"][rule]["backendRefs"]

    def _store(self, plural: str) -> dict[tuple[str, str], dict]:
        return self.ingresses if plural == "ingresses" else self.routes

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
                match = OBJECT_PATH.match(self.path)
                if not match or (match["api"], match["plural"]) not in SERVED:
                    self._status(404, "NotFound", "the server could not find the requested resource")
                    return None
                store, key = api._store(match["plural"]), (match["namespace"], match["name"])
                if key not in store:
                    self._status(404, "NotFound", f"{match['plural']} {key[1]!r} not found")
                    return None
                return store, key

            def do_GET(self):
                target = self._target()
                if target:
                    store, key = target
                    with api._lock:
                        body = copy.deepcopy(store[key])
                    self._send(200, body)
                    if api.after_read:
                        api.after_read(api)

            def do_PATCH(self):
                length = int(self.headers.get("Content-Length", 0))
                operations = json.loads(self.rfile.read(length) or b"null")
                target = self._target()
                if not target:
                    return
                store, key = target
                if api.refuse_patches:
                    self._status(403, "Forbidden", "the gate's user cannot patch this resource")
                    return
                if self.headers.get("Content-Type") != "application/json-patch+json" or not isinstance(
                    operations, list
                ):
                    self._status(415, "UnsupportedMediaType", "this stand-in only takes JSON Patch")
                    return
                with api._lock:
                    try:
                        patched = apply_json_patch(store[key], operations)
                    except PatchRejected as error:
                        self._status(422, "Invalid", str(error))
                        return
                    if not api.drop_patches:
                        version = int(patched["metadata"]["resourceVersion"]) + 1
                        patched["metadata"]["resourceVersion"] = str(version)
                        store[key] = patched
                    body = copy.deepcopy(store[key])
                self._send(200, body)

        return Handler
