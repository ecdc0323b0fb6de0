"""The preflight's pure parts: an OpenVPN config's servers, which route and network-ACL rule
carry a packet, which certificate names cover an address, how an alarm in ALARM is
explained, the table and the exit status. The checks against moto and the real control
plane are tests/integration/test_doctor_preflight.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from burst.core.alarms import FAILED_EVENTS, HANDLER_ALARMS, alarm_name, explain, function_errors
from burst.core.names import Metric
from burst.loop import doctor
from burst.loop.config import RuntimeConfig
from burst.loop.doctor.bootstrap import cert_sans, host_of
from burst.loop.doctor.network import Remote, _allowed, _out, remotes
from burst.ports.doctor import AclRule, AlarmState, Handshake, Route
from burst.tools.doctor import exit_status

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_an_openvpn_configs_servers_with_its_defaults() -> None:
    config = "client\nproto tcp-client\nremote vpn.example.com\nremote 203.0.113.9 443 udp\n"
    assert remotes(config) == (Remote("vpn.example.com", 1194, "6"),
                               Remote("203.0.113.9", 443, "17"))
    assert remotes("client\nremote 10.0.0.1\n") == (Remote("10.0.0.1", 1194, "17"),)


@pytest.mark.parametrize(("routes", "host", "out"), [
    ([Route("0.0.0.0/0", "nat-1")], "203.0.113.9", True),
    ([Route("0.0.0.0/0", "igw-1")], "203.0.113.9", False),  # no public IP on a node
    ([Route("0.0.0.0/0", "nat-1", active=False)], "203.0.113.9", False),  # blackhole
    ([Route("0.0.0.0/0", "nat-1"), Route("203.0.113.0/24", "igw-1")], "203.0.113.9", False),
    ([Route("203.0.113.0/24", "tgw-1")], "203.0.113.9", True),
    ([Route("203.0.113.0/24", "tgw-1")], "vpn.example.com", False),  # a name needs 0/0
    ([Route("10.0.0.0/16", "local")], "10.0.0.5", False),
], ids=["nat", "igw", "blackhole", "longest prefix wins", "tgw", "name", "local"])
def test_the_most_specific_route_decides_whether_a_packet_leaves(
    routes: list[Route], host: str, out: bool,
) -> None:
    assert _out(routes, host) is out


def test_the_first_network_acl_rule_that_matches_decides() -> None:
    server = Remote("203.0.113.9", 1194, "17")
    allow_all = AclRule(100, "0.0.0.0/0", "-1", True)
    deny_udp = AclRule(90, "0.0.0.0/0", "17", False, (1194, 1194))
    assert _allowed([allow_all], server)
    assert not _allowed([allow_all, deny_udp], server)
    assert _allowed([allow_all, AclRule(90, "0.0.0.0/0", "6", False)], server)  # TCP only
    assert not _allowed([], server)  # the implicit deny


@pytest.mark.parametrize(("names", "endpoint", "passes"), [
    (("DNS:localhost", "IP:10.8.0.1"), "10.8.0.1:6443", True),
    (("DNS:localhost", "IP:127.0.0.1"), "10.8.0.1:6443", False),
    (("DNS:*.example.com",), "api.example.com:6443", True),
    (("DNS:*.example.com",), "a.api.example.com:6443", False),
    (("IP:0:0:0:0:0:0:0:1",), "[::1]:6443", True),
], ids=["ip", "ip missing", "wildcard", "wildcard one label", "ipv6"])
def test_the_certificate_must_name_the_address_nodes_dial(
    names: tuple[str, ...], endpoint: str, passes: bool,
) -> None:
    check = cert_sans(Handshake("https://x", True, True, names=names), endpoint)
    assert (check.status is doctor.Status.OK) is passes, check.render()
    if not passes:
        assert host_of(endpoint) in check.detail and "apiserver-cert-extra-sans" in check.fix


class Alarms:
    def __init__(self, *states: AlarmState) -> None:
        self.states = states

    def alarms(self, prefix: str) -> tuple[AlarmState, ...]:
        return tuple(s for s in self.states if s.name.startswith(prefix))


def test_every_alarm_of_the_table_is_explained_by_its_name() -> None:
    specs = [*HANDLER_ALARMS.values(), FAILED_EVENTS, function_errors("scaler")]
    for spec in specs:
        assert explain("c", alarm_name("c", spec.id)) == spec
    assert explain("c", alarm_name("other", "JoinFailures")) is None


def test_an_alarm_in_alarm_is_named_with_its_cause_and_what_to_read() -> None:
    join = HANDLER_ALARMS[Metric.JOIN_FAILURES]
    reader = Alarms(AlarmState(alarm_name("c", join.id), "ALARM", "Threshold Crossed"),
                    AlarmState(alarm_name("c", "ScalerErrors"), "OK"))
    check = doctor.alarms(reader, "c")
    assert check.status is doctor.Status.FAIL and check.fix
    assert check.lines == (f"{join.id}: {join.what}; likely: {join.cause}; read: {join.read}",)
    assert doctor.alarms(Alarms(AlarmState(alarm_name("c", "ScalerErrors"), "OK")), "c") \
        .status is doctor.Status.OK
    assert doctor.alarms(Alarms(), "c").status is doctor.Status.FAIL  # nothing deployed


def test_the_exit_status_passes_only_when_every_check_ran_and_passed() -> None:
    ok, warn = doctor.ok("a"), doctor.Check("b", doctor.Status.WARN, "soon", "renew")
    absent, failed = doctor.not_run("c", "no access"), doctor.fail("d", "broken", "fix it")
    assert exit_status(doctor.Report((ok, warn))) == 0
    assert exit_status(doctor.Report((ok, absent))) == 3
    assert exit_status(doctor.Report((ok, absent, failed))) == 1


def test_the_report_is_a_table_with_each_fix_under_its_failure() -> None:
    report = doctor.Report((doctor.ok("aws-credentials", "account 1"),
                            doctor.fail("vpn-secret", "missing", "store it", ["us-east-1: x"]),
                            doctor.not_run("cluster-info", "no admin")))
    assert report.table().splitlines() == [
        "CHECK            RESULT   DETAIL",
        "aws-credentials  ok       account 1",
        "vpn-secret       FAIL     missing",
        "                          fix: store it",
        "                            us-east-1: x",
        "cluster-info     NOT RUN  no admin",
    ]


def test_with_no_port_every_preflight_check_is_not_run_and_none_passes() -> None:
    d = doctor.Deployment(cluster="c", account="123456789012", region="us-east-1",
                          node_endpoint="10.8.0.1:6443", credentials_secrets={},
                          function_subnets=(), regions=(), groups=())
    report = doctor.before_deploy(d, doctor.Expected(RuntimeConfig("c"), NOW), doctor.Before())
    assert [c.name for c in report.checks] == list(doctor.PREFLIGHT)
    assert {c.name for c in report.checks if c.status is not doctor.Status.NOT_RUN} == {
        doctor.PLUGIN}
    assert exit_status(report) == 3
