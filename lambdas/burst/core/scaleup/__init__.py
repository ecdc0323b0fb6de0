"""Scale-up: which new instances, in which node groups, for the pending FPGA pods."""
