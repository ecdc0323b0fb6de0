"""The burst simulator: the controller's own decisions, on virtual time."""
