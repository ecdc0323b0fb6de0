"""The F2 node image, built with EC2 Image Builder by the stack, for groups with no ami_id.

EC2 Image Builder through CDK, not Packer: it is what AWS's own F2 Runtime AMI Builder
uses (aws-fpga, developer_resources/runtime_ami_builder: CDK + Image Builder on Ubuntu
24.04), it deploys with `cdk deploy` like the rest (no second tool, no credentials on a
workstation), builds in the account on an instance of the VPC, and cdk-nag and checkov
check it with the stack. The recipe is one component that runs image/node/install.sh from
this checkout (an S3 asset of image/), the same script the real-node test runs its
container-runtime step from. The image is built while the stack deploys (CfnImage): the
first deploy waits for it (tens of minutes); a change to image/ or to node_image builds a
new one, and the groups' launch templates take its id.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_imagebuilder as imagebuilder
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from burst.tools.deploy.config import NodeImageConfig
from burst.tools.deploy.groups import NODE_IMAGE_ROOT_DEVICE
from stacks.nag import acknowledge

IMAGE_DIR = Path(__file__).resolve().parents[2] / "image"
# Canonical's public SSM parameter for the current Ubuntu 24.04 server AMI (amd64, gp3).
UBUNTU_2404 = "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
UNPACKED = "/opt/fpga-burst-image"
ROOT_VOLUME_GIB = 32  # the F2 Runtime AMI Builder's minimum (cdk.jsonc)
# The build instance's documented instance profile (Image Builder user guide).
BUILD_POLICIES = ("AmazonSSMManagedInstanceCore", "EC2InstanceProfileForImageBuilder")


def component_document(source_url: str, settings: NodeImageConfig) -> str:
    """The Image Builder component (AWSTOE document): fetch image/, run install.sh."""
    env = (f"KUBERNETES_VERSION={settings.kubernetes_version} "
           f"AWS_FPGA_REF={settings.aws_fpga_ref}")
    return yaml.safe_dump({
        "name": "fpga-burst-node",
        "description": "fpga-burst F2 node: image/node/install.sh all",
        "schemaVersion": 1.0,
        "phases": [{"name": "build", "steps": [
            {"name": "Fetch", "action": "S3Download", "inputs": [
                {"source": source_url, "destination": "/tmp/fpga-burst-image.zip"}]},
            {"name": "Install", "action": "ExecuteBash", "inputs": {"commands": [
                "apt-get update -q && apt-get install -y -q unzip",
                f"rm -rf {UNPACKED} && unzip -q /tmp/fpga-burst-image.zip -d {UNPACKED}",
                f"{env} bash {UNPACKED}/node/install.sh all",
            ]}},
        ]}],
    }, sort_keys=False)


class NodeImage(Construct):
    """Component, recipe, build infrastructure and the image itself; `image_id` is its AMI."""

    def __init__(self, scope: Construct, id: str, *, settings: NodeImageConfig,
                 subnet: ec2.ISubnet, security_group: ec2.ISecurityGroup) -> None:
        super().__init__(scope, id)
        source = s3_assets.Asset(self, "Source", path=str(IMAGE_DIR))
        # Image Builder components and recipes are immutable per name and version: the
        # source's hash in the name makes a changed image/ a new component and recipe.
        suffix = f"{Stack.of(self).stack_name}-{source.asset_hash[:12]}".lower()
        component = imagebuilder.CfnComponent(
            self, "Component", name=f"fpga-burst-node-{suffix}", platform="Linux",
            version="1.0.0", data=component_document(source.s3_object_url, settings))
        recipe = imagebuilder.CfnImageRecipe(
            self, "Recipe", name=f"fpga-burst-node-{suffix}", version="1.0.0",
            parent_image=ec2.MachineImage.from_ssm_parameter(UBUNTU_2404).get_image(
                self).image_id,
            components=[imagebuilder.CfnImageRecipe.ComponentConfigurationProperty(
                component_arn=component.attr_arn)],
            block_device_mappings=[imagebuilder.CfnImageRecipe.InstanceBlockDeviceMappingProperty(
                device_name=NODE_IMAGE_ROOT_DEVICE,
                ebs=imagebuilder.CfnImageRecipe.EbsInstanceBlockDeviceSpecificationProperty(
                    volume_size=ROOT_VOLUME_GIB, volume_type="gp3", encrypted=True,
                    delete_on_termination=True))])
        role = iam.Role(
            self, "BuildRole", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="fpga-burst node image build instance (EC2 Image Builder)",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(name)
                              for name in BUILD_POLICIES])
        source.grant_read(role)
        for policy in BUILD_POLICIES:
            acknowledge(role, f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                        f"{policy}]", "What EC2 Image Builder's build instance needs (its "
                        "documented instance profile); AWS keeps these policies current.")
        acknowledge(role, "AwsSolutions-IAM5[Action::s3:GetBucket*]",
                    "CDK's grant_read of the image source asset.")
        acknowledge(role, "AwsSolutions-IAM5[Action::s3:GetObject*]",
                    "CDK's grant_read of the image source asset.")
        acknowledge(role, "AwsSolutions-IAM5[Action::s3:List*]",
                    "CDK's grant_read of the image source asset.")
        for partition in ("<AWS::Partition>", "aws"):  # as cdk-nag names it, token or not
            acknowledge(role, f"AwsSolutions-IAM5[Resource::arn:{partition}:s3:::"
                        f"{source.s3_bucket_name}/*]",
                        "The objects of CDK's asset bucket: the image source is one of them.")
        profile = iam.CfnInstanceProfile(self, "BuildProfile", roles=[role.role_name])
        infrastructure = imagebuilder.CfnInfrastructureConfiguration(
            self, "Infrastructure", name=f"fpga-burst-node-{suffix}",
            instance_profile_name=profile.ref, instance_types=[settings.build_instance_type],
            subnet_id=subnet.subnet_id, security_group_ids=[security_group.security_group_id],
            terminate_instance_on_failure=True,
            instance_metadata_options=imagebuilder.CfnInfrastructureConfiguration
            .InstanceMetadataOptionsProperty(http_tokens="required"))
        image = imagebuilder.CfnImage(
            self, "Image", image_recipe_arn=recipe.attr_arn,
            infrastructure_configuration_arn=infrastructure.attr_arn,
            enhanced_image_metadata_enabled=True)
        self.image_id: str = image.attr_image_id
