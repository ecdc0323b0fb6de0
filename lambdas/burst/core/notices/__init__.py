"""Notices: EC2 and Auto Scaling events parsed into kinds; the marks a notice leaves on a node."""
