package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestDiscoverNumbersF2SlotsInPCIOrderWithTheirOwnNodes(t *testing.T) {
	tr := newFakeTree(t)
	// Created out of order: slot numbers follow PCI addresses, not directory order.
	tr.f2Slot(0x30, "slot1-user", "slot1-dma")
	tr.f2Slot(0x1f, "slot0-user")
	tr.function("0000:00:03.0", 0x8086, 0x1234, "unrelated")

	slots, err := Discover(tr.sys)
	if err != nil {
		t.Fatal(err)
	}
	want := []Slot{
		{Index: 0, Resource: "xilinx/aws-vu47p-f2", MgmtPF: "0000:1f:00.2", AppPF: "0000:1f:00.0",
			DevNodes: []string{"slot0-user"}},
		{Index: 1, Resource: "xilinx/aws-vu47p-f2", MgmtPF: "0000:30:00.2", AppPF: "0000:30:00.0",
			DevNodes: []string{"slot1-dma", "slot1-user"}},
	}
	if !reflect.DeepEqual(slots, want) {
		t.Fatalf("got %+v\nwant %+v", slots, want)
	}
}

func TestDiscoverMapsF1MailboxToTheAppPFOneDeviceLower(t *testing.T) {
	tr := newFakeTree(t)
	tr.function("0000:00:1d.0", 0x1d0f, 0x1042, "f1-user")
	tr.function("0000:00:1e.0", 0x1d0f, 0x1041)

	slots, err := Discover(tr.sys)
	if err != nil {
		t.Fatal(err)
	}
	if len(slots) != 1 || slots[0].AppPF != "0000:00:1d.0" || slots[0].Resource != "xilinx/aws-vu9p-f1" ||
		!reflect.DeepEqual(slots[0].DevNodes, []string{"f1-user"}) {
		t.Fatalf("got %+v", slots)
	}
}

func TestDiscoverUsesTheVfioGroupOfAFunctionBoundToVfioPci(t *testing.T) {
	tr := newFakeTree(t)
	tr.f2Slot(0x1f)
	app := filepath.Join(tr.sys, "bus/pci/devices/0000:1f:00.0")
	for link, target := range map[string]string{"driver": "../../../bus/pci/drivers/vfio-pci",
		"iommu_group": "../../../kernel/iommu_groups/7"} {
		if err := os.Symlink(target, filepath.Join(app, link)); err != nil {
			t.Fatal(err)
		}
	}
	slots, err := Discover(tr.sys)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(slots[0].DevNodes, []string{"vfio/7", "vfio/vfio"}) {
		t.Fatalf("got %v", slots[0].DevNodes)
	}
}

func TestDiscoverFailsWithoutAPCIBus(t *testing.T) {
	if _, err := Discover(filepath.Join(t.TempDir(), "nosys")); err == nil {
		t.Fatal("want an error naming the missing directory")
	}
}

func TestHealthyNeedsBothFunctionsAndEveryNode(t *testing.T) {
	tr := newFakeTree(t)
	tr.f2Slot(0x1f, "slot0-user")
	slots, _ := Discover(tr.sys)
	if !Healthy(slots[0], tr.sys, tr.dev) {
		t.Fatal("a complete slot is healthy")
	}
	if err := os.Remove(filepath.Join(tr.dev, "slot0-user")); err != nil {
		t.Fatal(err)
	}
	if Healthy(slots[0], tr.sys, tr.dev) {
		t.Fatal("a slot whose device node is gone is not healthy")
	}
}
