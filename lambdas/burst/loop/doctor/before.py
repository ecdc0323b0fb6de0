"""The AWS checks a deployment config needs before anything is deployed: the credentials,
the secrets it names, the node image, where the instance types are offered, the F quota,
and the device plugin's board names."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping

from burst.core.errors import ClusterCredentialsError
from burst.core.quota import QUOTA_CODES, QUOTA_NAMES
from burst.loop.doctor.deployment import Deployment
from burst.loop.doctor.results import (
    AWS_CREDENTIALS,
    CREDENTIALS_FIX,
    CREDENTIALS_SECRETS,
    NODE_IMAGE,
    OFFERINGS,
    PLUGIN,
    QUOTA,
    VPN_SECRET,
    Check,
    fail,
    ok,
)
from burst.ports.aws import ClusterCredentials
from burst.ports.doctor import AwsPreflight

NO_CREDENTIALS_FIX = ("give AWS credentials for the config's account (aws configure, "
                      "AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and a region")
VPN_FIX = ('store {"config": "<the .ovpn file>"} (and "username" with "password" if the '
           "server asks a login): aws secretsmanager put-secret-value --secret-id ARN "
           "--secret-string file://vpn.json")


def aws_credentials(reader: AwsPreflight, d: Deployment) -> Check:
    account = reader.account()
    if account != d.account:
        return fail(AWS_CREDENTIALS, f"these credentials act in account {account}, the "
                    f"config's aws.account is {d.account}",
                    "use credentials of the config's account (AWS_PROFILE), or correct "
                    "aws.account")
    return ok(AWS_CREDENTIALS, f"account {account}")


def credentials_secrets(reader: AwsPreflight, d: Deployment) -> Check:
    """Each function's secret exists and holds {endpoint, ca, token} (burst credentials)."""
    bad = []
    for function, arn in sorted(d.credentials_secrets.items()):
        text = reader.secret_text(arn)
        if text is None:
            bad.append(f"{function}: {arn} does not exist")
            continue
        try:
            ClusterCredentials.from_json(text, source=f"{function}'s secret")
        except ClusterCredentialsError as exc:
            bad.append(f"{function}: {exc}")
    if bad:
        return fail(CREDENTIALS_SECRETS, f"{len(bad)} of {len(d.credentials_secrets)} "
                    "credentials secrets unusable", CREDENTIALS_FIX, bad)
    return ok(CREDENTIALS_SECRETS, f"{', '.join(sorted(d.credentials_secrets))}: "
              "endpoint, ca and token")


def vpn_secret(reader: AwsPreflight, d: Deployment) -> tuple[Check, dict[str, str]]:
    """Each region's VPN secret as bootstrap.sh reads it (stacks/nodegroup/bootstrap.sh,
    start_vpn): JSON with a non-empty "config", a login only as username and password.
    With it, region -> the .ovpn text, for the egress check."""
    bad, found = [], {}
    for plan in d.regions:
        problem, config = _vpn(reader.secret_text(plan.vpn_secret))
        if problem:
            bad.append(f"{plan.region} {plan.vpn_secret}: {problem}")
        else:
            found[plan.region] = config
    if bad:
        return fail(VPN_SECRET, "the nodes could not start the VPN", VPN_FIX, bad), found
    return ok(VPN_SECRET, f"{len(found)} region(s): a client config with a remote"), found


def _vpn(text: str | None) -> tuple[str, str]:
    if text is None:
        return "does not exist", ""
    try:
        doc = json.loads(text)
    except ValueError:
        return "is not JSON", ""
    if not isinstance(doc, Mapping):
        return "is not a JSON object", ""
    config = doc.get("config")
    if not isinstance(config, str) or not config.strip():
        return 'has no "config" (the .ovpn file)', ""
    if bool(doc.get("username")) != bool(doc.get("password")):
        return 'has one of "username" and "password" without the other', ""
    if not any(line.split()[:1] == ["remote"] for line in config.splitlines()):
        return 'its "config" names no `remote` (the OpenVPN server)', ""
    return "", config


def node_image(reader: AwsPreflight, d: Deployment) -> Check:
    """Each group's AMI is there, available, in its region, with the root device the
    config gives (else the encrypted root volume is added beside the root)."""
    bad, seen = [], []
    for g in d.groups:
        if not g.ami_id:
            seen.append(f"{g.name}: the node image the stack builds (EC2 Image Builder)")
            continue
        image = reader.image(g.region, g.ami_id)
        if image is None:
            bad.append(f"{g.name}: {g.ami_id} does not exist in {g.region} for this account")
        elif image.state != "available":
            bad.append(f"{g.name}: {g.ami_id} is {image.state}, not available")
        elif image.root_device_name != g.root_device_name:
            bad.append(f"{g.name}: {g.ami_id}'s root device is {image.root_device_name}, "
                       f"the group's root_device_name is {g.root_device_name}")
        else:
            seen.append(f"{g.name}: {g.ami_id} available in {g.region}")
    if bad:
        return fail(NODE_IMAGE, f"{len(bad)} group(s) cannot launch their image",
                    "give each group an AMI of its region (aws ec2 describe-images "
                    "--image-ids ID --region R), or drop ami_id to use the built image", bad)
    return ok(NODE_IMAGE, f"{len(d.groups)} group(s)", seen)


def offerings(reader: AwsPreflight, d: Deployment) -> Check:
    """Every subnet of a group is in an Availability Zone offering its instance type:
    DescribeInstanceTypeOfferings with LocationType availability-zone lists the zones
    (EC2 API reference). A zone without it fails every launch there."""
    offered: dict[tuple[str, str], frozenset[str]] = {}
    bad = []
    for g in d.groups:
        key = (g.region, g.instance_type)
        if key not in offered:
            offered[key] = reader.offered_zones(g.region, g.instance_type)
        bad += [f"{g.name}: {g.instance_type} is not offered in {zone} ({subnet})"
                for subnet, zone in sorted(g.subnets.items()) if zone not in offered[key]]
    if bad:
        return fail(OFFERINGS, f"{len(bad)} subnet(s) in zones without the instance type",
                    "list only subnets in offered zones in the group's subnet_ids (aws ec2 "
                    "describe-instance-type-offerings --location-type availability-zone "
                    "--filters Name=instance-type,Values=TYPE --region R)", bad)
    return ok(OFFERINGS, "every group's subnets are in zones offering its type")


def quota(reader: AwsPreflight, d: Deployment) -> Check:
    """The F vCPU quotas (burst.core.quota: L-74FC7D96 on-demand, L-88CF9481 Spot, per
    region) cover every group of the region at its max size."""
    need: dict[tuple[str, str], int] = defaultdict(int)
    for g in d.groups:
        need[(g.region, g.capacity_type)] += g.max_size * g.vcpus
    bad: list[str] = []
    seen: list[str] = []
    for (region, kind), vcpus in sorted(need.items()):
        limit = reader.quota(region, QUOTA_CODES[kind])
        line = (f"{region} {kind}: max sizes need {vcpus} vCPUs, {QUOTA_NAMES[kind]} "
                f"({QUOTA_CODES[kind]}) is {limit}")
        (bad if vcpus > limit else seen).append(line)
    if bad:
        return fail(QUOTA, "the F vCPU quota is below what the max sizes need",
                    "request the increase (aws service-quotas request-service-quota-increase "
                    "--service-code ec2 --quota-code CODE --desired-value N --region R), "
                    "or lower max_size", bad)
    return ok(QUOTA, "the max sizes fit the F vCPU quotas", seen)


def device_plugin(d: Deployment) -> Check:
    """A group on the built node image gets the boards its device plugin advertises
    (burst.loop.doctor.deployment.PLUGIN_BOARDS): a board_resource naming another is never
    advertised, so pods asking for it never fit a node."""
    bad = [f"{g.name}: expects {board}, the node image's device plugin advertises "
           f"{', '.join(sorted(d.plugin_boards))}"
           for g in d.groups if not g.ami_id for board in sorted(g.boards)
           if board not in d.plugin_boards]
    own = [f"{g.name}: its own AMI must advertise {', '.join(sorted(g.boards))}"
           for g in d.groups if g.ami_id]
    if bad:
        return fail(PLUGIN, "a group expects a board the node image does not advertise",
                    "drop board_resource from the group (the plugin's names are the "
                    "catalog's), or give the group an AMI whose plugin advertises it", bad)
    return ok(PLUGIN, "the boards each group expects are the ones its nodes advertise", own)
