"""Scale-down: which burst nodes are unneeded, which pods wait for a freed board, and what
is learned from runs and arrivals."""
