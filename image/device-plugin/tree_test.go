package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fakeTree is a sysfs + dev tree with FPGA slots, as the kernel and a driver lay them out.
type fakeTree struct {
	t   *testing.T
	sys string
	dev string
}

func newFakeTree(t *testing.T) *fakeTree {
	root := t.TempDir()
	tr := &fakeTree{t: t, sys: filepath.Join(root, "sys"), dev: filepath.Join(root, "dev")}
	tr.write("bus/pci/devices/.keep", "")
	if err := os.MkdirAll(tr.dev, 0o755); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (tr *fakeTree) write(rel, text string) {
	path := filepath.Join(tr.sys, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

// function adds a PCI function with its IDs and, for each name, a class device whose node
// is /dev/<name> (a plain file here; Discover and Healthy only look for its presence).
func (tr *fakeTree) function(addr string, vendor, device uint16, nodes ...string) {
	base := "bus/pci/devices/" + addr
	tr.write(base+"/vendor", fmt.Sprintf("0x%04x\n", vendor))
	tr.write(base+"/device", fmt.Sprintf("0x%04x\n", device))
	for _, n := range nodes {
		tr.write(base+"/fpga/"+n+"/dev", "240:0\n")
		tr.write(base+"/fpga/"+n+"/uevent", "MAJOR=240\nMINOR=0\nDEVNAME="+n+"\n")
		if err := os.WriteFile(filepath.Join(tr.dev, n), nil, 0o600); err != nil {
			tr.t.Fatal(err)
		}
	}
}

// f2Slot adds one F2 slot: app PF at function 0 and mailbox PF at function 2 of a device.
func (tr *fakeTree) f2Slot(bus int, nodes ...string) {
	tr.function(fmt.Sprintf("0000:%02x:00.0", bus), 0x1d0f, 0xf010, nodes...)
	tr.function(fmt.Sprintf("0000:%02x:00.2", bus), 0x1d0f, 0x9248)
}
