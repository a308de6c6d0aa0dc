"""Traffic backends: set the canary's share of traffic and read back what the load balancer
really applied. Every backend's set_share ends with a read-back; a mismatch is an error."""

from __future__ import annotations

import json
import os

from ansible_collections.perfgate.fleet.plugins.module_utils.atomic_write import atomic_write_json
from ansible_collections.perfgate.fleet.plugins.module_utils.haproxy_client import HAProxyError, haproxy_command
from ansible_collections.perfgate.fleet.plugins.module_utils.unleash_admin import UnleashAdmin, UnleashError

HAPROXY_MAX_WEIGHT = 256


class TrafficError(Exception):
    """The backend could not be reached, refused the change, or did not apply it."""


def haproxy_weights(percent: int, stable_servers: int, canary_servers: int) -> tuple[int, int]:
    """Per-server weights (stable, canary) in HAProxy's 0-256 so that the canary servers together
    get `percent` of the requests: C*wc / (C*wc + S*ws) closest to percent/100."""
    if percent <= 0:
        return HAPROXY_MAX_WEIGHT // 2, 0
    if percent >= 100:
        return 0, HAPROXY_MAX_WEIGHT // 2
    target = percent / 100.0
    best = None
    for canary_weight in range(1, HAPROXY_MAX_WEIGHT + 1):
        ideal = canary_servers * canary_weight * (1 - target) / (target * stable_servers)
        for stable_weight in sorted(
            {max(1, min(HAPROXY_MAX_WEIGHT, int(ideal))), max(1, min(HAPROXY_MAX_WEIGHT, int(ideal) + 1))}
        ):
            canary_total = canary_servers * canary_weight
            share = canary_total / (canary_total + stable_servers * stable_weight)
            error = abs(share - target)
            if best is None or error < best[0] - 1e-12:
                best = (error, stable_weight, canary_weight)
    return best[1], best[2]


def share_of(weights: dict[str, int], canary: list[str]) -> float:
    total = sum(weights.values())
    return 100.0 * sum(weights[s] for s in canary) / total if total else 0.0


class HAProxyRuntime:
    """HAProxy's runtime API over a UNIX socket (a path) or TCP ('host:port')."""

    def __init__(self, address: str, backend: str, stable: list[str], canary: list[str], timeout: float = 5.0):
        if not stable or not canary:
            raise TrafficError("haproxy traffic needs at least one stable and one canary server")
        self.address, self.backend, self.stable, self.canary, self.timeout = address, backend, stable, canary, timeout

    def _command(self, command: str) -> str:
        try:
            return haproxy_command(self.address, command, self.timeout)
        except HAProxyError as error:
            raise TrafficError(str(error)) from None

    def weights(self) -> dict[str, int]:
        weights = {}
        for server in self.stable + self.canary:
            answer = self._command(f"get weight {self.backend}/{server}")
            first = answer.split(" ", 1)[0]
            if not first.isdigit():
                raise TrafficError(f"HAProxy: get weight {self.backend}/{server}: {answer or 'no answer'}")
            weights[server] = int(first)
        return weights

    def share(self) -> float:
        return share_of(self.weights(), self.canary)

    def set_share(self, percent: int) -> dict:
        stable_weight, canary_weight = haproxy_weights(percent, len(self.stable), len(self.canary))
        wanted = {**{s: stable_weight for s in self.stable}, **{s: canary_weight for s in self.canary}}
        # Raise the side that gains first, so the backend never has every server at weight 0.
        order = self.canary + self.stable if percent >= self.share() else self.stable + self.canary
        for server in order:
            answer = self._command(f"set weight {self.backend}/{server} {wanted[server]}")
            if answer:
                raise TrafficError(f"HAProxy refused set weight {self.backend}/{server} {wanted[server]}: {answer}")
        applied = self.weights()
        if applied != wanted:
            raise TrafficError(f"HAProxy read-back differs: wanted {wanted}, got {applied}")
        return {"weights": applied, "share": round(share_of(applied, self.canary), 2)}


class FileTraffic:
    """The canary weight in a JSON file, for dry runs, tests and other tools to pick up."""

    def __init__(self, path: str):
        self.path = path

    def share(self) -> float:
        try:
            with open(self.path, encoding="utf-8") as handle:
                return float(json.load(handle)["canary_weight"])
        except FileNotFoundError:
            return 0.0
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise TrafficError(f"cannot read the canary weight from {self.path}: {error}") from None

    def set_share(self, percent: int) -> dict:
        try:
            atomic_write_json(self.path, {"canary_weight": percent})
        except OSError as error:
            raise TrafficError(f"cannot write {self.path}: {error.strerror}") from None
        applied = self.share()
        if applied != percent:
            raise TrafficError(f"{self.path} read back {applied}, wanted {percent}")
        return {"share": applied}


class AlbTraffic:
    """An AWS ALB listener's default action (or one rule) forwarding by weight to the stable and
    canary target groups."""

    def __init__(self, client, listener_arn: str, stable_tg: str, canary_tg: str, rule_arn: str | None = None):
        self.client, self.listener_arn, self.rule_arn = client, listener_arn, rule_arn
        self.stable_tg, self.canary_tg = stable_tg, canary_tg

    def _actions(self) -> list[dict]:
        try:
            if self.rule_arn:
                return self.client.describe_rules(RuleArns=[self.rule_arn])["Rules"][0]["Actions"]
            return self.client.describe_listeners(ListenerArns=[self.listener_arn])["Listeners"][0]["DefaultActions"]
        except Exception as error:  # botocore's error types vary; each means the same here
            raise TrafficError(f"cannot describe the ALB {'rule' if self.rule_arn else 'listener'}: {error}") from None

    def weights(self) -> dict[str, int]:
        for action in self._actions():
            groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
            if action.get("Type") == "forward" and groups:
                return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
            if action.get("Type") == "forward" and action.get("TargetGroupArn"):
                return {action["TargetGroupArn"]: 1}
        raise TrafficError("the ALB listener has no forward action")

    def share(self) -> float:
        weights = self.weights()
        return (
            share_of({k: v for k, v in weights.items() if k in (self.stable_tg, self.canary_tg)}, [self.canary_tg])
            if self.canary_tg in weights
            else 0.0
        )

    def set_share(self, percent: int) -> dict:
        actions = [
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": self.stable_tg, "Weight": 100 - percent},
                        {"TargetGroupArn": self.canary_tg, "Weight": percent},
                    ]
                },
            }
        ]
        try:
            if self.rule_arn:
                self.client.modify_rule(RuleArn=self.rule_arn, Actions=actions)
            else:
                self.client.modify_listener(ListenerArn=self.listener_arn, DefaultActions=actions)
        except Exception as error:
            raise TrafficError(f"the ALB refused the new weights: {error}") from None
        applied = self.weights()
        wanted = {self.stable_tg: 100 - percent, self.canary_tg: percent}
        if applied != wanted:
            raise TrafficError(f"ALB read-back differs: wanted {wanted}, got {applied}")
        return {"weights": applied, "share": float(percent)}


class UnleashFlag:
    """A feature flag's gradual rollout in one Unleash environment. The gate owns one
    flexibleRollout strategy on the flag, found by its title, and never touches the others:
    the canary's share is that strategy's rollout percentage while the flag is on there."""

    STRATEGY_TITLE = "perfgate canary_gate"
    # How the gate names this backend when the live share differs from the rollout's.
    holder = "the Unleash flag"

    def __init__(self, admin: UnleashAdmin, environment: str, stickiness: str = "default"):
        self.admin, self.environment, self.stickiness = admin, environment, stickiness

    def _call(self, operation, *args):
        try:
            return operation(*args)
        except UnleashError as error:
            raise TrafficError(str(error)) from None

    def _owned(self, environment: dict) -> dict | None:
        for strategy in environment.get("strategies") or []:
            if strategy.get("title") == self.STRATEGY_TITLE and strategy.get("name") == "flexibleRollout":
                return strategy
        return None

    def _state(self) -> tuple[bool, dict | None, list[dict]]:
        environment = self._call(self.admin.environment, self.environment)
        owned = self._owned(environment)
        others = [s for s in environment.get("strategies") or [] if s is not owned and not s.get("disabled")]
        return bool(environment.get("enabled")), owned, others

    @staticmethod
    def _rollout(strategy: dict | None) -> int:
        if not strategy:
            return 0
        value = (strategy.get("parameters") or {}).get("rollout", "0")
        try:
            return int(str(value))
        except ValueError:
            raise TrafficError(
                f"the flag's perfgate strategy has a rollout of {value!r}, not a whole percentage"
            ) from None

    def share(self) -> float:
        enabled, owned, _others = self._state()
        return float(self._rollout(owned)) if enabled else 0.0

    def set_share(self, percent) -> dict:
        if isinstance(percent, bool) or not float(percent).is_integer() or not 0 <= float(percent) <= 100:
            raise TrafficError(f"an Unleash rollout is a whole percentage from 0 to 100; got {percent!r}")
        percent = int(percent)
        enabled, owned, others = self._state()
        strategy = {
            "name": "flexibleRollout",
            "title": self.STRATEGY_TITLE,
            "constraints": (owned or {}).get("constraints") or [],
            "parameters": {
                **((owned or {}).get("parameters") or {}),
                "rollout": str(percent),
                "stickiness": self.stickiness,
                "groupId": self.admin.feature_name,
            },
        }
        if owned is None and percent > 0:
            owned = self._call(self.admin.add_strategy, self.environment, strategy)
        elif owned is not None:
            self._call(self.admin.update_strategy, self.environment, owned["id"], strategy)
        # A rollback turns the flag off only after its rollout is 0, so no client that refreshes in
        # between sees the flag on for more users; an advance turns it on after the rollout is set.
        if enabled != (percent > 0):
            self._call(self.admin.switch, self.environment, percent > 0)

        # One read of the flag gives both the on/off state and the strategy's rollout; a strategy
        # that vanished in between reads as rollout 0 and fails any share above 0.
        applied_enabled, applied, _others = self._state()
        applied_rollout = self._rollout(applied)
        if applied_enabled != (percent > 0) or applied_rollout != percent:
            raise TrafficError(
                f"Unleash read-back differs: wanted rollout {percent}% with the flag "
                f"{'on' if percent > 0 else 'off'} in {self.environment}, got rollout {applied_rollout}% "
                f"with the flag {'on' if applied_enabled else 'off'}"
            )
        result = {"share": float(percent), "enabled": applied_enabled, "strategy_id": (applied or {}).get("id")}
        if others:
            # Unleash enables a user when any strategy does, so other active strategies widen the
            # flag's audience beyond the gate's percentage.
            result["other_strategies"] = [s.get("title") or s.get("name") for s in others]
        return result


INGRESS_NGINX_CANARY = "nginx.ingress.kubernetes.io/canary"
INGRESS_NGINX_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
INGRESS_NGINX_WEIGHT_TOTAL = "nginx.ingress.kubernetes.io/canary-weight-total"


def _json_pointer(*keys: str) -> str:
    return "".join("/" + key.replace("~", "~0").replace("/", "~1") for key in keys)


def kubernetes_error(doing: str, name: str, plural: str, kind: str, error: Exception) -> str:
    """What a failed Kubernetes API call means for the gate, in one sentence."""
    status = getattr(error, "status", None)
    if not isinstance(status, int):
        return f"cannot reach the Kubernetes API to {doing} {name}: {error}"
    if status == 404:
        return f"{name} does not exist (HTTP 404)"
    if status in (401, 403):
        return (
            f"the Kubernetes API refused to {doing} {name} (HTTP {status} {getattr(error, 'reason', '')}); "
            f"the gate's credentials need get and patch on {plural} in that namespace"
        )
    if status == 422 and doing == "patch":
        return (
            f"the canary weight of {name} changed while the gate was applying its own "
            f"(someone else edited the {kind}); nothing was changed, run the gate again to judge the new weight"
        )
    return f"the Kubernetes API answered HTTP {status} {getattr(error, 'reason', '')} to {doing} {name}"


class IngressNginxCanary:
    """ingress-nginx's canary Ingress: its canary-weight annotation, out of canary-weight-total
    (default 100), is the canary's share. `api` is a kubernetes.client.NetworkingV1Api.

    The change is a JSON Patch whose `test` operation carries the weight read just before, so the
    API server refuses it when someone else moved the weight in between (HTTP 422) instead of the
    gate silently overwriting them."""

    def __init__(self, api, namespace: str, ingress: str, timeout: float = 10.0):
        self.api, self.namespace, self.ingress, self.timeout = api, namespace, ingress, timeout

    @property
    def _name(self) -> str:
        return f"ingress {self.namespace}/{self.ingress}"

    def _explain(self, doing: str, error: Exception) -> str:
        return kubernetes_error(doing, self._name, "ingresses", "Ingress", error)

    def _annotations(self) -> dict[str, str]:
        try:
            ingress = self.api.read_namespaced_ingress(self.ingress, self.namespace, _request_timeout=self.timeout)
        except Exception as error:  # ApiException, urllib3 and socket errors all mean "no answer we can use"
            raise TrafficError(self._explain("read", error)) from None
        annotations = dict(ingress.metadata.annotations or {})
        if annotations.get(INGRESS_NGINX_CANARY) != "true":
            raise TrafficError(
                f'{self._name} is not an ingress-nginx canary: its annotation {INGRESS_NGINX_CANARY} is not "true"'
            )
        return annotations

    def _total(self, annotations: dict[str, str]) -> int:
        raw = annotations.get(INGRESS_NGINX_WEIGHT_TOTAL, "100")
        if not raw.isdigit() or int(raw) == 0:
            raise TrafficError(f"{self._name}: {INGRESS_NGINX_WEIGHT_TOTAL} is {raw!r}, not a positive integer")
        return int(raw)

    def _weight(self, annotations: dict[str, str], total: int) -> int:
        raw = annotations.get(INGRESS_NGINX_WEIGHT, "0")
        if not raw.isdigit() or int(raw) > total:
            raise TrafficError(f"{self._name}: {INGRESS_NGINX_WEIGHT} is {raw!r}, not an integer from 0 to {total}")
        return int(raw)

    def share(self) -> float:
        annotations = self._annotations()
        total = self._total(annotations)
        return 100.0 * self._weight(annotations, total) / total

    def set_share(self, percent: int) -> dict:
        annotations = self._annotations()
        total = self._total(annotations)
        wanted = round(percent * total / 100)
        path = _json_pointer("metadata", "annotations", INGRESS_NGINX_WEIGHT)
        patch = [{"op": "add", "path": path, "value": str(wanted)}]
        if INGRESS_NGINX_WEIGHT in annotations:
            patch.insert(0, {"op": "test", "path": path, "value": annotations[INGRESS_NGINX_WEIGHT]})
        try:
            self.api.patch_namespaced_ingress(self.ingress, self.namespace, patch, _request_timeout=self.timeout)
        except Exception as error:
            raise TrafficError(self._explain("patch", error)) from None
        applied = self._weight(self._annotations(), total)
        if applied != wanted:
            raise TrafficError(f"{self._name}: read-back differs: wanted canary-weight {wanted}, got {applied}")
        return {
            "weights": {"canary-weight": applied, "canary-weight-total": total},
            "share": round(100 * applied / total, 2),
        }


GATEWAY_API_GROUP, GATEWAY_API_VERSION, HTTP_ROUTES = "gateway.networking.k8s.io", "v1", "httproutes"
# The Gateway API's default for a backendRef without a weight.
GATEWAY_API_DEFAULT_WEIGHT = 1


class GatewayApiRoute:
    """A Gateway API HTTPRoute whose rules send to a stable and a canary Service by weight: the
    canary's share is its weight over the rule's total. `api` is a kubernetes.client.CustomObjectsApi.

    Every rule that references the two Services gets the weights (stable 100 - share, canary
    share). The JSON Patch first tests each backendRef's name and the weight read just before, so
    the API server refuses it (HTTP 422) when someone else moved a weight or reordered the refs."""

    def __init__(self, api, namespace: str, route: str, stable_service: str, canary_service: str, timeout=10.0):
        self.api, self.namespace, self.route, self.timeout = api, namespace, route, timeout
        self.services = {"stable": stable_service, "canary": canary_service}

    @property
    def _name(self) -> str:
        return f"HTTPRoute {self.namespace}/{self.route}"

    def _read(self) -> dict:
        try:
            return self.api.get_namespaced_custom_object(
                GATEWAY_API_GROUP, GATEWAY_API_VERSION, self.namespace, HTTP_ROUTES, self.route,
                _request_timeout=self.timeout,
            )  # fmt: skip
        except Exception as error:  # ApiException, urllib3 and socket errors all mean "no answer we can use"
            raise TrafficError(kubernetes_error("read", self._name, HTTP_ROUTES, "HTTPRoute", error)) from None

    def _weighted_rules(self, route: dict) -> list[tuple[int, dict[str, int], dict[str, int]]]:
        """(rule index, group -> backendRef index, group -> weight) of each rule naming the Services."""
        rules = []
        for rule_index, rule in enumerate((route.get("spec") or {}).get("rules") or []):
            refs = rule.get("backendRefs") or []
            positions = {g: [i for i, ref in enumerate(refs) if ref.get("name") == s] for g, s in self.services.items()}
            if not positions["stable"] and not positions["canary"]:
                continue
            where = f"{self._name} rule {rule_index}"
            if len(positions["stable"]) != 1 or len(positions["canary"]) != 1:
                raise TrafficError(
                    f"{where} must send to {self.services['stable']} and {self.services['canary']} once each; "
                    f"its backendRefs are {[ref.get('name') for ref in refs]}"
                )
            others = [
                ref.get("name")
                for i, ref in enumerate(refs)
                if i not in (positions["stable"][0], positions["canary"][0])
            ]
            if others:
                raise TrafficError(f"{where} also sends to {others}; the gate only splits between stable and canary")
            index = {g: p[0] for g, p in positions.items()}
            weights = {}
            for group, ref_index in index.items():
                weight = refs[ref_index].get("weight", GATEWAY_API_DEFAULT_WEIGHT)
                if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
                    raise TrafficError(
                        f"{where}: the weight of {self.services[group]} is {weight!r}, not an integer >= 0"
                    )
                weights[group] = weight
            rules.append((rule_index, index, weights))
        if not rules:
            raise TrafficError(
                f"{self._name} has no rule sending to {self.services['stable']} and {self.services['canary']}"
            )
        return rules

    def _share(self, rules) -> float:
        shares = set()
        for rule_index, _positions, weights in rules:
            total = weights["stable"] + weights["canary"]
            if total == 0:
                raise TrafficError(f"{self._name} rule {rule_index}: both weights are 0, so the route answers errors")
            shares.add(round(100.0 * weights["canary"] / total, 2))
        if len(shares) > 1:
            raise TrafficError(f"{self._name}: its rules give the canary different shares {sorted(shares)}")
        return shares.pop()

    def share(self) -> float:
        return self._share(self._weighted_rules(self._read()))

    def set_share(self, percent: int) -> dict:
        route = self._read()
        rules = self._weighted_rules(route)
        wanted = {"stable": 100 - percent, "canary": percent}
        patch = []
        for rule_index, index, _weights in rules:
            refs = route["spec"]["rules"][rule_index]["backendRefs"]
            for group, ref_index in index.items():
                base = f"/spec/rules/{rule_index}/backendRefs/{ref_index}"
                patch.append({"op": "test", "path": f"{base}/name", "value": self.services[group]})
                if "weight" in refs[ref_index]:
                    patch.append({"op": "test", "path": f"{base}/weight", "value": refs[ref_index]["weight"]})
                patch.append({"op": "add", "path": f"{base}/weight", "value": wanted[group]})
        try:
            self.api.patch_namespaced_custom_object(
                GATEWAY_API_GROUP, GATEWAY_API_VERSION, self.namespace, HTTP_ROUTES, self.route, patch,
                # The client sends custom objects as merge patches unless told otherwise.
                _content_type="application/json-patch+json", _request_timeout=self.timeout,
            )  # fmt: skip
        except Exception as error:
            raise TrafficError(kubernetes_error("patch", self._name, HTTP_ROUTES, "HTTPRoute", error)) from None
        applied = self._weighted_rules(self._read())
        for rule_index, _positions, weights in applied:
            if weights != wanted:
                raise TrafficError(f"{self._name} rule {rule_index}: read-back differs: wanted {wanted}, got {weights}")
        return {"weights": dict(applied[0][2]), "share": self._share(applied)}


def boto3_client(service: str, region: str | None):
    try:
        import boto3
    except ImportError:
        raise TrafficError(
            "the boto3 Python library is required for CloudWatch metrics and the aws_alb backend; "
            "install it on the controller (pip install boto3)"
        ) from None
    return boto3.client(service, region_name=region)


def kubernetes_api(api_class: str, kubeconfig: str | None, context: str | None):
    """A kubernetes.client API (NetworkingV1Api, CustomObjectsApi) for the configured cluster."""
    try:
        from kubernetes import client, config
    except ImportError:
        raise TrafficError(
            "the kubernetes Python library is required for the ingress_nginx and gateway_api backends; "
            "install it on the controller (pip install kubernetes)"
        ) from None
    try:
        # A controller running in a pod (no kubeconfig named) uses its service account.
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config()
            api_client = client.ApiClient()
        else:
            api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
    except Exception as error:  # ConfigException, OSError and YAML errors all mean the same here
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise TrafficError(f"cannot load the Kubernetes client configuration from {where}: {error}") from None
    return getattr(client, api_class)(api_client)


TRAFFIC_BACKENDS = ("haproxy", "aws_alb", "ingress_nginx", "gateway_api", "unleash", "file")
KUBERNETES_BACKENDS = ("ingress_nginx", "gateway_api")
# The modules' argument spec for `traffic` (documented in doc_fragments/traffic.py).
TRAFFIC_OPTION = {
    "type": "dict",
    "mutually_exclusive": [list(TRAFFIC_BACKENDS)],
    "required_one_of": [list(TRAFFIC_BACKENDS)],
    "options": {
        "haproxy": {
            "type": "dict",
            "options": {
                "socket": {"type": "str", "required": True},
                "backend": {"type": "str", "required": True},
                "stable_servers": {"type": "list", "elements": "str", "required": True},
                "canary_servers": {"type": "list", "elements": "str", "required": True},
                "timeout": {"type": "float", "default": 5},
            },
        },
        "aws_alb": {
            "type": "dict",
            "options": {
                "listener_arn": {"type": "str", "required": True},
                "rule_arn": {"type": "str"},
                "stable_target_group_arn": {"type": "str", "required": True},
                "canary_target_group_arn": {"type": "str", "required": True},
                "region": {"type": "str"},
            },
        },
        "ingress_nginx": {
            "type": "dict",
            "options": {
                "namespace": {"type": "str", "required": True},
                "ingress": {"type": "str", "required": True},
                "kubeconfig": {"type": "path"},
                "context": {"type": "str"},
                "timeout": {"type": "float", "default": 10},
            },
        },
        "gateway_api": {
            "type": "dict",
            "options": {
                "namespace": {"type": "str", "required": True},
                "route": {"type": "str", "required": True},
                "stable_service": {"type": "str", "required": True},
                "canary_service": {"type": "str", "required": True},
                "kubeconfig": {"type": "path"},
                "context": {"type": "str"},
                "timeout": {"type": "float", "default": 10},
            },
        },
        "unleash": {
            "type": "dict",
            "options": {
                "url": {"type": "str", "required": True},
                "token": {"type": "str", "required": True, "no_log": True},
                "project": {"type": "str", "default": "default"},
                "feature": {"type": "str", "required": True},
                "environment": {"type": "str", "required": True},
                "stickiness": {"type": "str", "default": "default"},
                "timeout": {"type": "float", "default": 10},
                "validate_certs": {"type": "bool", "default": True},
                "ca_path": {"type": "path"},
            },
        },
        "file": {"type": "dict", "options": {"path": {"type": "path", "required": True}}},
    },
}


def build_traffic(traffic: dict | None, region: str | None):
    if not traffic:
        return None
    # The module's argument spec fills every backend it did not get with None.
    traffic = {kind: options for kind, options in traffic.items() if options is not None}
    kinds = [k for k in TRAFFIC_BACKENDS if k in traffic]
    if len(kinds) != 1 or len(traffic) != 1 or not isinstance(traffic[kinds[0]], dict):
        raise TrafficError(
            f"traffic must hold exactly one of {', '.join(TRAFFIC_BACKENDS)}, with its parameters as a mapping; "
            f"got {sorted(traffic)}"
        )
    kind, options = kinds[0], traffic[kinds[0]]

    def need(*names):
        missing = [n for n in names if not options.get(n)]
        if missing:
            raise TrafficError(f"traffic.{kind} needs {', '.join(missing)}")

    if kind == "haproxy":
        need("socket", "backend", "stable_servers", "canary_servers")
        return HAProxyRuntime(
            options["socket"],
            options["backend"],
            list(options["stable_servers"]),
            list(options["canary_servers"]),
            float(options.get("timeout") or 5),
        )
    if kind == "file":
        need("path")
        return FileTraffic(options["path"])
    if kind == "unleash":
        need("url", "token", "feature", "environment")
        try:
            admin = UnleashAdmin(
                options["url"],
                options["token"],
                options.get("project") or "default",
                options["feature"],
                float(options.get("timeout") or 10),
                options.get("validate_certs", True) is not False,
                options.get("ca_path"),
            )
        except UnleashError as error:
            raise TrafficError(str(error)) from None
        return UnleashFlag(admin, options["environment"], options.get("stickiness") or "default")
    if kind == "ingress_nginx":
        need("namespace", "ingress")
        return IngressNginxCanary(
            kubernetes_api("NetworkingV1Api", options.get("kubeconfig"), options.get("context")),
            options["namespace"],
            options["ingress"],
            float(options.get("timeout") or 10),
        )
    if kind == "gateway_api":
        need("namespace", "route", "stable_service", "canary_service")
        return GatewayApiRoute(
            kubernetes_api("CustomObjectsApi", options.get("kubeconfig"), options.get("context")),
            options["namespace"],
            options["route"],
            options["stable_service"],
            options["canary_service"],
            float(options.get("timeout") or 10),
        )
    need("listener_arn", "stable_target_group_arn", "canary_target_group_arn")
    return AlbTraffic(
        boto3_client("elbv2", options.get("region") or region),
        options["listener_arn"],
        options["stable_target_group_arn"],
        options["canary_target_group_arn"],
        options.get("rule_arn"),
    )
