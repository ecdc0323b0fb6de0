package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Slot is one FPGA slot: the unit a pod is given.
type Slot struct {
	// Index is the slot number the AWS FPGA tools take (`fpga-load-local-image -S`):
	// mailbox PFs in PCI address order, as fpga_pci_mbox_scan sorts them.
	Index    int
	Resource string
	MgmtPF   string // PCI address of the mailbox (management) PF
	AppPF    string // PCI address of the application PF
	// DevNodes are the slot's device nodes, relative to the dev root ("xdma0_user").
	DevNodes []string
}

// ID is the device ID the kubelet sees; the slot number keeps it stable across rescans
// and matches what `fpga-describe-local-image-slots` prints.
func (s Slot) ID() string { return fmt.Sprintf("slot%d", s.Index) }

type pciAddr struct {
	domain, bus, dev, fn int
}

func parsePCI(name string) (pciAddr, bool) {
	var a pciAddr
	// sysfs names PCI functions DDDD:BB:dd.f (hex), e.g. 0000:00:1d.0.
	n, err := fmt.Sscanf(name, "%x:%x:%x.%x", &a.domain, &a.bus, &a.dev, &a.fn)
	return a, err == nil && n == 4
}

func (a pciAddr) String() string {
	return fmt.Sprintf("%04x:%02x:%02x.%x", a.domain, a.bus, a.dev, a.fn)
}

func (a pciAddr) less(b pciAddr) bool {
	if a.domain != b.domain {
		return a.domain < b.domain
	}
	if a.bus != b.bus {
		return a.bus < b.bus
	}
	if a.dev != b.dev {
		return a.dev < b.dev
	}
	return a.fn < b.fn
}

func readHex(path string) (uint16, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(raw)), "0x"), 16, 16)
	return uint16(v), err
}

// Discover lists the FPGA slots under sysRoot (normally /sys), their device nodes named
// relative to /dev. Tests give it a fake tree.
func Discover(sysRoot string) ([]Slot, error) {
	devices := filepath.Join(sysRoot, "bus", "pci", "devices")
	entries, err := os.ReadDir(devices)
	if err != nil {
		return nil, fmt.Errorf("cannot list PCI devices: %w", err)
	}
	type found struct {
		addr  pciAddr
		board Board
	}
	var mboxes []found
	for _, e := range entries {
		addr, ok := parsePCI(e.Name())
		if !ok {
			continue
		}
		vendor, errV := readHex(filepath.Join(devices, e.Name(), "vendor"))
		device, errD := readHex(filepath.Join(devices, e.Name(), "device"))
		if errV != nil || errD != nil {
			continue // a function going away mid-scan is not a slot
		}
		for _, b := range Boards {
			if b.Vendor == vendor && b.Device == device {
				mboxes = append(mboxes, found{addr, b})
			}
		}
	}
	sort.Slice(mboxes, func(i, j int) bool { return mboxes[i].addr.less(mboxes[j].addr) })
	slots := make([]Slot, 0, len(mboxes))
	for i, m := range mboxes {
		app := m.addr
		app.dev += m.board.AppDevOffset
		if m.board.AppFunc0 {
			app.fn = 0
		}
		slot := Slot{Index: i, Resource: m.board.Resource, MgmtPF: m.addr.String(), AppPF: app.String()}
		for _, pf := range []string{slot.AppPF, slot.MgmtPF} {
			nodes, err := devNodes(filepath.Join(devices, pf))
			if err != nil {
				return nil, err
			}
			slot.DevNodes = append(slot.DevNodes, nodes...)
		}
		sort.Strings(slot.DevNodes)
		slots = append(slots, slot)
	}
	return slots, nil
}

// devNodes are the device nodes a PCI function's drivers made: every class device below
// the function's sysfs directory has a `dev` file and names its node in `uevent`
// (DEVNAME=..., relative to /dev; the kernel's sysfs ABI, Documentation/ABI/testing/
// sysfs-uevent), e.g. the XDMA driver's xdma0_user. A function bound to vfio-pci is used
// through its IOMMU group's /dev/vfio/<group> (Documentation/driver-api/vfio.rst).
func devNodes(function string) ([]string, error) {
	var nodes []string
	err := filepath.WalkDir(function, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == function {
				return err
			}
			return nil // a class device going away mid-walk
		}
		// WalkDir does not follow symlinks (driver, subsystem, iommu_group lead out of this
		// function); class devices sit at most a few levels down (xdma/xdma0_user).
		if !d.IsDir() {
			return nil
		}
		if strings.Count(strings.TrimPrefix(path, function), string(filepath.Separator)) > 3 {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, "dev")); err != nil {
			return nil
		}
		if name := devName(filepath.Join(path, "uevent")); name != "" {
			nodes = append(nodes, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", function, err)
	}
	if driver, err := os.Readlink(filepath.Join(function, "driver")); err == nil &&
		filepath.Base(driver) == "vfio-pci" {
		if group, err := os.Readlink(filepath.Join(function, "iommu_group")); err == nil {
			nodes = append(nodes, "vfio/vfio", "vfio/"+filepath.Base(group))
		}
	}
	return nodes, nil
}

func devName(uevent string) string {
	f, err := os.Open(uevent)
	if err != nil {
		return ""
	}
	defer f.Close()
	scan := bufio.NewScanner(f)
	for scan.Scan() {
		if name, ok := strings.CutPrefix(scan.Text(), "DEVNAME="); ok {
			return filepath.Clean(name)
		}
	}
	return ""
}

// Healthy: both of the slot's PCI functions are still there and every device node it had
// exists. A node gone (driver unloaded, function removed) makes the slot Unhealthy, so the
// kubelet stops placing pods on it.
func Healthy(s Slot, sysRoot, devRoot string) bool {
	devices := filepath.Join(sysRoot, "bus", "pci", "devices")
	for _, pf := range []string{s.MgmtPF, s.AppPF} {
		if _, err := os.Stat(filepath.Join(devices, pf)); err != nil {
			return false
		}
	}
	for _, n := range s.DevNodes {
		if _, err := os.Stat(filepath.Join(devRoot, n)); err != nil {
			return false
		}
	}
	return true
}
