"""The node image: built by EC2 Image Builder in the stack for groups without an ami_id."""

from __future__ import annotations

from typing import Any

import yaml
from aws_cdk.assertions import Template

from burst.tools.deploy.config import DeployConfig
from burst.tools.deploy.groups import NODE_IMAGE_ROOT_DEVICE


def one(template: Template, kind: str) -> tuple[str, dict[str, Any]]:
    (found,) = template.find_resources(kind).items()
    return found


def launch_templates(template: Template) -> dict[str, dict[str, Any]]:
    """Launch template name -> its LaunchTemplateData."""
    return {r["Properties"]["LaunchTemplateName"]: r["Properties"]["LaunchTemplateData"]
            for r in template.find_resources("AWS::EC2::LaunchTemplate").values()}


def test_groups_without_an_ami_launch_the_image_the_stack_builds(
    template: Template, config: DeployConfig
) -> None:
    image_id, _ = one(template, "AWS::ImageBuilder::Image")
    data = launch_templates(template)
    for group in config.node_groups:
        lt = data[group.asg_name(config.cluster_name)]
        if group.ami_id:
            assert lt["ImageId"] == group.ami_id
        else:
            assert lt["ImageId"] == {"Fn::GetAtt": [image_id, "ImageId"]}
            # Ubuntu's root device: the encrypted gp3 volume replaces the root, not beside it
            assert lt["BlockDeviceMappings"][0]["DeviceName"] == NODE_IMAGE_ROOT_DEVICE
    assert any(not g.ami_id for g in config.node_groups)
    assert any(g.ami_id for g in config.node_groups)


def test_the_recipe_runs_install_sh_for_the_clusters_version_on_ubuntu(
    template: Template, config: DeployConfig
) -> None:
    _, component = one(template, "AWS::ImageBuilder::Component")
    document = yaml.safe_load(component["Properties"]["Data"])
    (build,) = document["phases"]
    fetch, install = build["steps"]
    assert fetch["action"] == "S3Download"
    assert config.node_image is not None
    commands = install["inputs"]["commands"]
    assert commands[-1].startswith(
        f"KUBERNETES_VERSION={config.node_image.kubernetes_version} AWS_FPGA_REF=f2 bash ")
    assert commands[-1].endswith("/node/install.sh all")
    _, recipe = one(template, "AWS::ImageBuilder::ImageRecipe")
    (disk,) = recipe["Properties"]["BlockDeviceMappings"]
    assert disk["Ebs"]["Encrypted"] is True
    # The parent image is Canonical's current Ubuntu 24.04, resolved at deploy time
    parent = recipe["Properties"]["ParentImage"]["Ref"]
    assert "canonical/ubuntu/server/24.04" in template.to_json()["Parameters"][parent]["Default"]
    _, infra = one(template, "AWS::ImageBuilder::InfrastructureConfiguration")
    assert infra["Properties"]["InstanceMetadataOptions"]["HttpTokens"] == "required"
    assert infra["Properties"]["TerminateInstanceOnFailure"] is True
