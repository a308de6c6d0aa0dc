"""Where the gate's numbers come from. Each source answers three questions for a query:
samples (a Histogram of this window's requests), count (one number) and value (one number).
Anything short of a usable answer is NoData or SourceError (InputError for numbers that are not
valid), never an exception of another kind and never a made-up number."""

from __future__ import annotations

import base64
import json
import math
import time
import urllib.error
import urllib.parse
from dataclasses import dataclass, field

from ansible.module_utils import urls
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_stats import Histogram, InputError
from ansible_collections.perfgate.fleet.plugins.module_utils.http_url import http_base_url


class NoData(Exception):
    """The source answered, but with nothing usable (empty, NaN, stale)."""


class SourceError(Exception):
    """The source could not be asked (HTTP error, timeout, bad query)."""


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise NoData(f"{what} is {value}")
    return value


class Source:
    """samples/count/value take the query (already filled for the group) and the group name;
    query-language sources ignore the group, the file source looks it up."""

    def samples(self, query, group: str) -> Histogram:
        raise NotImplementedError

    def count(self, query, group: str) -> float:
        raise NotImplementedError

    def value(self, query, group: str) -> float:
        raise NotImplementedError

    def counts(self, query, group: str) -> tuple[float, float]:
        """(errors, requests) for a ratio or one burn-rate window."""
        if not isinstance(query, dict) or not {"errors", "requests"} <= set(query):
            raise SourceError(f"a ratio query needs 'errors' and 'requests', got {query!r}")
        return self.count(query["errors"], group), self.count(query["requests"], group)

    def window_counts(self, query, group: str, window: str) -> tuple[float, float]:
        """(errors, requests) of one burn-rate window ('long' or 'short')."""
        return self.counts(query[window], group)

    def preflight(self, query) -> None:
        """Before any traffic moves: raise SourceError or NoData unless the query answers."""


@dataclass(frozen=True)
class PrometheusAccess:
    """How to reach a Prometheus as users run it: behind basic auth, a bearer token, mTLS, or AWS
    SigV4 (Amazon Managed Prometheus), with a CA bundle and extra headers."""

    auth: str = "none"  # none, basic, bearer or sigv4
    username: str | None = None
    password: str | None = None
    token: str | None = None
    region: str | None = None  # sigv4
    service: str = "aps"  # sigv4
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    validate_certs: bool = True
    headers: dict = field(default_factory=dict)

    def request_headers(self, method: str, address: str) -> dict:
        headers = dict(self.headers)
        if self.auth == "basic":
            pair = f"{self.username}:{self.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif self.auth == "bearer":
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.auth == "sigv4":
            headers.update(sigv4_headers(method, address, self.region, self.service))
        return headers


def sigv4_headers(method: str, address: str, region: str | None, service: str) -> dict:
    """The Authorization and X-Amz-* headers that sign this request with the default AWS
    credentials (environment, profile or instance role), as botocore signs AWS API calls."""
    try:
        import botocore.session
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
    except ImportError:
        raise SourceError("prometheus_auth type sigv4 needs the botocore library on the controller") from None
    session = botocore.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise SourceError("prometheus_auth type sigv4: no AWS credentials found (environment, profile or role)")
    region = region or session.get_config_variable("region")
    if not region:
        raise SourceError("prometheus_auth type sigv4 needs a region")
    request = AWSRequest(method=method, url=address)
    SigV4Auth(credentials.get_frozen_credentials(), service, region).add_auth(request)
    return {
        k: v for k, v in request.headers.items() if k.lower() in ("authorization", "x-amz-date", "x-amz-security-token")
    }


AUTH_TYPES = ("none", "basic", "bearer", "sigv4")


def prometheus_access(options: dict | None) -> PrometheusAccess:
    """The module's prometheus_auth option, checked."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    auth = options.pop("type", "none")
    if auth not in AUTH_TYPES:
        raise SourceError(f"prometheus_auth type must be one of {', '.join(AUTH_TYPES)}, not {auth!r}")
    if auth == "basic" and not options.get("username"):
        raise SourceError("prometheus_auth type basic needs username (and password)")
    if auth == "bearer" and not options.get("token"):
        raise SourceError("prometheus_auth type bearer needs token")
    if options.get("client_key") and not options.get("client_cert"):
        raise SourceError("prometheus_auth client_key needs client_cert")
    known = set(PrometheusAccess.__dataclass_fields__) - {"auth"}
    unknown = set(options) - known
    if unknown:
        raise SourceError(f"prometheus_auth: unknown field(s) {', '.join(sorted(unknown))}")
    return PrometheusAccess(auth=auth, **options)


class PrometheusSource(Source):
    """Prometheus HTTP API, instant queries (/api/v1/query)."""

    def __init__(
        self,
        url: str,
        timeout: float = 10.0,
        max_sample_age: float = 120.0,
        now=time.time,
        access: PrometheusAccess | None = None,
    ):
        self.url = http_base_url(url)
        if self.url is None:
            raise SourceError(f"prometheus_url {url!r} is not an http:// or https:// URL")
        self.timeout = timeout
        self.max_sample_age = max_sample_age
        self.now = now
        self.access = access or PrometheusAccess()

    def _query(self, query: str) -> list[dict]:
        if not isinstance(query, str) or not query.strip():
            raise SourceError(f"a Prometheus query must be a non-empty string, got {query!r}")
        evaluated_at = self.now()
        address = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": f"{evaluated_at:.3f}"})
        access = self.access
        try:
            response = urls.open_url(
                address,
                method="GET",
                headers=access.request_headers("GET", address),
                timeout=self.timeout,
                validate_certs=access.validate_certs,
                ca_path=access.ca_path,
                client_cert=access.client_cert,
                client_key=access.client_key,
                use_netrc=False,
            )
            with response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            hint = " (check prometheus_auth)" if error.code in (401, 403) else ""
            raise SourceError(f"Prometheus answered HTTP {error.code}{hint} for {query!r}: {detail.strip()}") from None
        except (urllib.error.URLError, TimeoutError, OSError, urls.SSLValidationError, urls.ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise SourceError(f"cannot reach Prometheus at {self.url}: {reason}") from None
        except ValueError:
            raise SourceError(f"Prometheus at {self.url} did not answer JSON") from None
        if body.get("status") != "success":
            raise SourceError(f"Prometheus rejected {query!r}: {body.get('error', body)}")
        data = body.get("data", {})
        result_type, result = data.get("resultType"), data.get("result", [])
        if result_type == "scalar":
            result = [{"metric": {}, "value": result}]
        if not result:
            raise NoData(f"no series for {query!r}")
        if result_type == "matrix":  # range selectors carry real sample times: check staleness
            newest = max(float(s["values"][-1][0]) for s in result if s.get("values"))
            if evaluated_at - newest > self.max_sample_age:
                raise NoData(f"newest sample of {query!r} is {evaluated_at - newest:.0f} s old")
        return result

    @staticmethod
    def _values(series: dict) -> list[float]:
        points = series.get("values") or [series.get("value")]
        return [float(point[1]) for point in points if point]

    def samples(self, query, group: str) -> Histogram:
        result = self._query(query)
        if all("le" in s.get("metric", {}) for s in result):
            buckets: dict[float, float] = {}
            for series in result:
                bound = float(series["metric"]["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sum(self._values(series))
            bounds = sorted(buckets)
            counts = [buckets[b] for b in bounds]
            if not all(math.isfinite(c) for c in counts):
                raise NoData(f"histogram {query!r} has non-finite bucket counts")
            # increase() extrapolates each bucket series on its own, so neighbours can dip by a
            # fraction of a request; more than that is not a cumulative histogram.
            return Histogram.from_cumulative(bounds, counts, tolerance=max(1.0, 0.001 * max(counts)))
        return Histogram.from_samples([v for s in result for v in self._values(s)])

    def preflight(self, query) -> None:
        for text in _leaves(query, lambda q: isinstance(q, str)):
            self._query(text)

    def count(self, query, group: str) -> float:
        return _finite(sum(v for s in self._query(query) for v in self._values(s)), f"result of {query!r}")

    def value(self, query, group: str) -> float:
        result = self._query(query)
        if len(result) != 1:
            raise SourceError(f"{query!r} returned {len(result)} series; a gauge query must return one")
        return _finite(self._values(result[0])[-1], f"result of {query!r}")


class FileSource(Source):
    """JSON documents of raw samples and counts, for offline analysis and CI performance gates.

    Combined (one file, both groups):
      {"metrics": {"latency": {"baseline": [0.012, ...], "canary": [...]},
                   "errors": {"baseline": {"errors": 12, "requests": 10000}, "canary": {...}}}}
    Per group (one file per build, as the CLI compares them): {"metrics": {"latency": [...], ...}}
    A latency entry may also be {"buckets": {"0.005": 10, "0.01": 42, "+Inf": 50}} (cumulative).
    The query is the metric's key in the document (its name unless the metric says otherwise)."""

    def __init__(self, entries: dict[tuple[str, str], object], origin: str):
        self.entries = entries
        self.origin = origin

    @classmethod
    def combined(cls, path: str) -> FileSource:
        document = load_json_document(path)
        entries = {}
        for name, by_group in document["metrics"].items():
            if isinstance(by_group, dict):
                for group, entry in by_group.items():
                    entries[(name, group)] = entry
        return cls(entries, path)

    @classmethod
    def per_group(cls, paths: dict[str, str]) -> FileSource:
        entries = {}
        for group, path in paths.items():
            for name, entry in load_json_document(path)["metrics"].items():
                entries[(name, group)] = entry
        return cls(entries, ", ".join(paths.values()))

    def _entry(self, query, group: str):
        if (query, group) not in self.entries:
            raise NoData(f"{self.origin} has no {group} data for {query!r}")
        entry = self.entries[(query, group)]
        if entry is None:
            raise NoData(f"{self.origin}: {group} {query!r} is empty")
        return entry

    def samples(self, query, group: str) -> Histogram:
        entry = self._entry(query, group)
        where = f"{self.origin}: {group} {query!r}"
        try:
            if isinstance(entry, dict) and isinstance(entry.get("buckets"), dict):
                bounds = [_bound(b, where) for b in entry["buckets"]]
                return Histogram.from_cumulative(bounds, list(entry["buckets"].values()))
            if isinstance(entry, list) or hasattr(entry, "dtype"):  # numpy arrays: documents built in memory
                return Histogram.from_samples(entry)
        except InputError as error:
            raise InputError(f"{where}: {error}") from None
        raise SourceError(f"{self.origin}: {group} {query!r} must be a list of samples or {{'buckets': {{...}}}}")

    def counts(self, query, group: str) -> tuple[float, float]:
        entry = self._entry(query, group)
        if isinstance(entry, dict) and "long" in entry:  # a burn-rate entry: the caller names the window
            raise SourceError(f"{self.origin}: {group} {query!r} holds windows; ask for one")
        return self._pair(entry, f"{group} {query!r}")

    def window_counts(self, query, group: str, window: str) -> tuple[float, float]:
        entry = self._entry(query, group)
        if not isinstance(entry, dict) or window not in entry:
            raise NoData(f"{self.origin}: {group} {query!r} has no {window} window")
        return self._pair(entry[window], f"{group} {query!r} {window} window")

    def _pair(self, entry, what: str) -> tuple[float, float]:
        if not isinstance(entry, dict) or not {"errors", "requests"} <= set(entry):
            raise SourceError(f"{self.origin}: {what} must have 'errors' and 'requests'")
        for key in ("errors", "requests"):
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"{self.origin}: {what} {key} must be a number, got {value!r}")
        return float(entry["errors"]), float(entry["requests"])

    def value(self, query, group: str) -> float:
        entry = self._entry(query, group)
        if isinstance(entry, dict):
            entry = entry.get("value")
        if not isinstance(entry, (int, float)) or isinstance(entry, bool):
            raise SourceError(f"{self.origin}: {group} {query!r} is not a number")
        return _finite(float(entry), f"{group} {query!r}")


def _leaves(query, is_leaf):
    """The single queries inside a ratio's or burn rate's mapping."""
    if is_leaf(query):
        yield query
    elif isinstance(query, dict):
        for value in query.values():
            yield from _leaves(value, is_leaf)


def _bound(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{where}: bucket bound {text!r} is not a number") from None


def load_json_document(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as error:
        raise SourceError(f"cannot read metrics file {path}: {error.strerror}") from None
    except ValueError as error:
        raise SourceError(f"metrics file {path} is not valid JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("metrics"), dict):
        raise SourceError(f"metrics file {path} must hold an object with a 'metrics' mapping")
    return document


class CloudWatchSource(Source):
    """CloudWatch GetMetricData. A query is a mapping: namespace, metric, dimensions, stat (Sum,
    Average, Maximum, SampleCount or a percentile such as p99), period (s) and minutes to look back.

    Limits, by design of CloudWatch: percentile statistics come per period, so a latency judged
    from CloudWatch compares per-period percentiles (n = number of periods, so set min_samples
    low and look back long enough), not raw requests; standard-resolution metrics arrive 1-3
    minutes late; a call returns at most 100,800 data points and costs per metric requested."""

    def __init__(self, client, now=time.time):
        self.client = client
        self.now = now

    def _series(self, query: dict) -> list[float]:
        if not isinstance(query, dict) or not {"namespace", "metric", "stat"} <= set(query):
            raise SourceError(f"a CloudWatch query needs namespace, metric and stat: {query!r}")
        end = self.now()
        start = end - _look_back_seconds(query.get("minutes", 10))
        dimensions = [{"Name": k, "Value": str(v)} for k, v in (query.get("dimensions") or {}).items()]
        try:
            answer = self.client.get_metric_data(
                MetricDataQueries=[
                    {
                        "Id": "q0",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": query["namespace"],
                                "MetricName": query["metric"],
                                "Dimensions": dimensions,
                            },
                            "Period": int(query.get("period", 60)),
                            "Stat": query["stat"],
                        },
                    }
                ],
                StartTime=start,
                EndTime=end,
            )
        except Exception as error:  # botocore raises many types; every one is a source error here
            raise SourceError(f"CloudWatch GetMetricData failed: {error}") from None
        values = [v for r in answer.get("MetricDataResults", []) for v in r.get("Values", [])]
        values = [float(v) for v in values if math.isfinite(float(v))]
        if not values:
            raise NoData(f"CloudWatch has no data for {query['namespace']}/{query['metric']}")
        return values

    def samples(self, query, group: str) -> Histogram:
        return Histogram.from_samples(self._series(query))

    def preflight(self, query) -> None:
        for leaf in _leaves(query, lambda q: isinstance(q, dict) and "namespace" in q):
            self._series(leaf)

    def count(self, query, group: str) -> float:
        return sum(self._series(query))

    def value(self, query, group: str) -> float:
        return self._series(query)[0]  # GetMetricData returns the newest period first


def _look_back_seconds(minutes) -> float:
    """A CloudWatch query's look-back: minutes as a number, or "<n>s" as ${since} fills it."""
    if isinstance(minutes, str) and minutes.endswith("s") and minutes[:-1].isdigit():
        return float(minutes[:-1])
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
        raise SourceError(f"a CloudWatch query's minutes must be a positive number, got {minutes!r}")
    return 60.0 * float(minutes)
