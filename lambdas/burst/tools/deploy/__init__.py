"""What a deployment is, without aws_cdk: its configuration file, the tags of its node
groups, each function's limits and settings. The CDK app (stacks/) builds from these; the
`burst` tools that must agree with it (doctor, demo, invoke) read the same."""
