"""The CloudWatch source against moto's CloudWatch (GetMetricData)."""

from __future__ import annotations

import datetime

import boto3
import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_sources import CloudWatchSource, NoData, SourceError
from moto import mock_aws


@pytest.fixture
def cloudwatch(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="eu-west-1")
        now = datetime.datetime.now(datetime.UTC)
        for minutes_ago, (errors, requests) in enumerate([(3, 1000), (5, 1200), (4, 900)]):
            stamp = now - datetime.timedelta(minutes=minutes_ago + 1)
            for name, value in (("Errors", errors), ("Requests", requests)):
                client.put_metric_data(
                    Namespace="Perfgate",
                    MetricData=[
                        {
                            "MetricName": name,
                            "Dimensions": [{"Name": "Group", "Value": "canary"}],
                            "Timestamp": stamp,
                            "Value": value,
                        }
                    ],
                )
        yield CloudWatchSource(client)


def query(metric, stat="Sum"):
    return {
        "namespace": "Perfgate",
        "metric": metric,
        "dimensions": {"Group": "canary"},
        "stat": stat,
        "period": 60,
        "minutes": 10,
    }


def test_counts_and_samples_come_from_get_metric_data(cloudwatch):
    errors, requests = cloudwatch.counts({"errors": query("Errors"), "requests": query("Requests")}, "canary")
    assert (errors, requests) == (12.0, 3100.0)
    samples = cloudwatch.samples(query("Requests"), "canary")  # 900, 1000 and 1200, on the 2 % grid
    assert samples.n == 3 and samples.quantile(0.5) == pytest.approx(1000, rel=0.02)


def test_missing_metric_is_nodata_and_a_bad_query_is_an_error(cloudwatch):
    with pytest.raises(NoData, match="no data for Perfgate/Latency"):
        cloudwatch.value(query("Latency"), "canary")
    with pytest.raises(SourceError, match="needs namespace, metric and stat"):
        cloudwatch.value({"metric": "Errors"}, "canary")
