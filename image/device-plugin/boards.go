package main

// A board kind: how its slots show on the PCI bus and the extended resource it is
// advertised as. The resource names are the ones fpga-burst's catalog
// (lambdas/burst/core/catalog.py: F1_BOARD, F2_BOARD) and the node groups' Auto Scaling
// tags use; tests/integration/test_real_node.py checks the two agree through -boards.
type Board struct {
	Resource string `json:"resource"`
	// Vendor and Device identify a slot's management (mailbox) physical function. The
	// AWS FPGA SDK finds slots the same way: aws-fpga f2 branch,
	// sdk/userspace/include/hal/fpga_common.h (FPGA_MBOX_VENDOR_ID 0x1d0f,
	// F1_MBOX_DEVICE_ID 0x1041, F2_MBOX_DEVICE_ID 0x9248) and fpga_pci_sysfs.c
	// (fpga_pci_mbox_scan).
	Vendor uint16 `json:"vendor"`
	Device uint16 `json:"device"`
	// AppDevOffset and AppFunc0 locate the slot's application PF from its mailbox PF, as
	// fpga_common.h's GET_DEV_NUM_FROM_FPGA_MBOX_MAP / GET_FUNC_NUM_FROM_FPGA_MBOX_MAP do:
	// F1 one device number lower with the same function, F2 the same device, function 0.
	AppDevOffset int  `json:"appDevOffset"`
	AppFunc0     bool `json:"appFunc0"`
}

// Boards is every kind the plugin knows. On-prem Alveo boards (xilinx/u250) are not here:
// the seed's InAccel FPGA operator advertises those (README, "Which names are ours").
var Boards = []Board{
	{Resource: "xilinx/aws-vu47p-f2", Vendor: 0x1d0f, Device: 0x9248, AppDevOffset: 0, AppFunc0: true},
	{Resource: "xilinx/aws-vu9p-f1", Vendor: 0x1d0f, Device: 0x1041, AppDevOffset: -1, AppFunc0: false},
}
