"""The operations kit: deploy/prometheus/alerts.yml and deploy/grafana/dns-reconciler.json.

The rules are checked by Prometheus' own `promtool` (`check rules`, then `test rules`: each
alert fires on the series that should raise it, and not on healthy ones); every series the
rules and the dashboard name is one the real daemon serves on /metrics.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.daemonsite import WWW, Site

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dns-reconciler.json"
SERIES = re.compile(r"\breconciler_[a-z_]+\b")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make test` installs Debian's prometheus package"
    return subprocess.run([tool, *args], capture_output=True, text=True, check=False)


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


# Each alert: series that raise it (after its `for:`), and the labels it then carries.
FIRING = {
    "ReconcilerDown": ('up{job="reconciler", instance="p:9153"}', "0x10", "10m", {}),
    "ReconcilerNamedDown": (
        'reconciler_named_up{job="reconciler", instance="p:9153"}',
        "0x10",
        "5m",
        {},
    ),
    "ReconcilerSecondaryLagging": (
        'reconciler_secondary_lag_seconds{job="reconciler", instance="p:9153",'
        ' zone="example.com", server="ns2"}',
        "0+60x10",
        "8m",
        {"zone": "example.com", "server": "ns2"},
    ),
    "ReconcilerReconcileFailed": (
        'reconciler_failures_total{job="reconciler", instance="p:9153", reason="BindError"}',
        "0 0 1 2 2 2 2 2 2 2 2",
        "5m",
        {"reason": "BindError"},
    ),
    "ReconcilerBackingOff": (
        'reconciler_backoff_seconds{job="reconciler", instance="p:9153"}',
        "30x30",
        "20m",
        {},
    ),
    "ReconcilerZoneDrift": (
        'reconciler_zone_drift{job="reconciler", instance="p:9153", zone="example.com"}',
        "1x10",
        "8m",
        {"zone": "example.com"},
    ),
    "ReconcilerSignaturesExpiringSoon": (
        'reconciler_dnssec_signature_expiry_seconds{job="reconciler", instance="p:9153",'
        ' zone="example.com", server="ns2"}',
        "432000x40",
        "35m",
        {"zone": "example.com", "server": "ns2"},
    ),
    "ReconcilerSignaturesExpiring": (
        'reconciler_dnssec_signature_expiry_seconds{job="reconciler", instance="p:9153",'
        ' zone="example.com", server="ns2"}',
        "86400x20",
        "15m",
        {"zone": "example.com", "server": "ns2"},
    ),
    "ReconcilerSignaturesInvalid": (
        'reconciler_dnssec_signatures_valid{job="reconciler", instance="p:9153",'
        ' zone="example.com", server="ns3"}',
        "0x10",
        "8m",
        {"zone": "example.com", "server": "ns3"},
    ),
    "ReconcilerDsMismatch": (
        'reconciler_dnssec_ds_mismatch{job="reconciler", instance="p:9153", zone="example.com"}',
        "1x20",
        "20m",
        {"zone": "example.com"},
    ),
}
# What each alert then says (its templates filled in).
SAYS = {
    "ReconcilerDown": (
        "dns-reconciler on p:9153 does not answer /metrics",
        "No push is being served. `systemctl status reconciler` on the primary.",
    ),
    "ReconcilerNamedDown": (
        "named on the primary does not answer (p:9153)",
        "The reconciler's SOA queries to the primary get no answer;"
        " nothing is deployed until it does.",
    ),
    "ReconcilerSecondaryLagging": (
        "secondary ns2 lags on example.com",
        "ns2 has not served the expected serial of example.com for 8m 0s."
        " `reconciler status` names what it serves.",
    ),
    "ReconcilerReconcileFailed": (
        "reconciles fail on p:9153: BindError",
        "A reconcile did not succeed in the last 15 minutes (BindError);"
        " /healthz and the daemon's log say why.",
    ),
    "ReconcilerBackingOff": (
        "dns-reconciler has been retrying for 15 minutes on p:9153",
        "A temporary failure (named, rndc or a transfer) has not cleared; next retry in 30s.",
    ),
    "ReconcilerZoneDrift": (
        "the primary serves example.com otherwise than git",
        "A record of example.com was changed by hand or by an unexpected dynamic update."
        ' `reconciler status` shows the diff; [drift] action = "restore" serves git\'s'
        " content again.",
    ),
    "ReconcilerSignaturesExpiringSoon": (
        "signatures of example.com on ns2 expire in 5d 0h 0m 0s",
        "named re-signs well before expiry; a server still serving signatures this old has"
        " stopped taking the zone (see ReconcilerSecondaryLagging) or the primary stopped"
        " signing (`rndc dnssec -status example.com`).",
    ),
    "ReconcilerSignaturesExpiring": (
        "signatures of example.com on ns2 expire in 1d 0h 0m 0s",
        "When they expire, validating resolvers fail example.com (SERVFAIL).",
    ),
    "ReconcilerSignaturesInvalid": (
        "signatures of example.com on ns3 do not validate",
        "Validating resolvers that reach ns3 fail example.com."
        " `reconciler doctor example.com` names the record.",
    ),
    "ReconcilerDsMismatch": (
        "the parent's DS for example.com matches no key the zone serves",
        "The chain of trust is broken: validating resolvers fail example.com."
        " `reconciler doctor example.com` says which DS the registrar needs.",
    ),
}
# The same series when all is well: no alert.
HEALTHY = {
    "ReconcilerDown": "1x10",
    "ReconcilerNamedDown": "1x10",
    "ReconcilerSecondaryLagging": "0x10",
    "ReconcilerReconcileFailed": "2x10",
    "ReconcilerBackingOff": "0x30",
    "ReconcilerZoneDrift": "0x10",
    "ReconcilerSignaturesExpiringSoon": "2592000x40",
    "ReconcilerSignaturesExpiring": "432000x20",
    "ReconcilerSignaturesInvalid": "1x10",
    "ReconcilerDsMismatch": "0x20",
}


def test_each_alert_fires_on_its_series_and_not_when_healthy(tmp_path: Path) -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert set(alerts) == set(FIRING), "every alert has a case here"
    tests = []
    for name, (series, values, at, labels) in FIRING.items():
        expected = {
            "exp_labels": {
                **labels,
                "severity": alerts[name]["labels"]["severity"],
                "instance": "p:9153",
                "job": "reconciler",
            },
            "exp_annotations": {"summary": SAYS[name][0], "description": SAYS[name][1]},
        }
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": series, "values": values}],
                "alert_rule_test": [{"eval_time": at, "alertname": name, "exp_alerts": [expected]}],
            }
        )
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": series, "values": HEALTHY[name]}],
                "alert_rule_test": [{"eval_time": at, "alertname": name, "exp_alerts": []}],
            }
        )
    unit = tmp_path / "alerts_test.yml"
    unit.write_text(yaml.safe_dump({"rule_files": [str(ALERTS)], "tests": tests}))
    result = promtool("test", "rules", str(unit))
    assert result.returncode == 0, result.stdout + result.stderr


def exported(site: Site) -> set[str]:
    """The series names the real daemon serves on /metrics after one confirmed push."""
    daemon = site.start()
    site.push(lambda t: t.replace(WWW, "www     IN A    192.0.2.72"), "Move www")
    daemon.wait_event(
        lambda e: e.get("event") == "reconciled" and e.get("status") == "confirmed",
        "the push to be confirmed",
    )
    status, text = site.get("/metrics")
    assert status == 200
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.M):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    assert "reconciler_zone_serial" in names, text
    return names


def test_dashboard_and_rules_name_only_series_the_daemon_serves(site: Site) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    variables = dashboard["templating"]["list"]
    exprs += [v["query"]["query"] for v in variables if isinstance(v.get("query"), dict)]
    rules = yaml.safe_load(ALERTS.read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    named = {name for expr in exprs for name in SERIES.findall(expr)}
    served = exported(site)
    assert named - served == set(), f"not served by the daemon: {sorted(named - served)}"
    # every series the daemon serves is on the dashboard (histograms by their buckets)
    shown = {n.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count") for n in named}
    missing = (
        {n for n in served if not n.endswith("_created")}
        - shown
        - {f"{n}_{s}" for n in shown for s in ("bucket", "sum", "count")}
    )
    assert missing == set(), f"served but not on the dashboard: {sorted(missing)}"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
