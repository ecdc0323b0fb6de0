package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	api "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

// fakeKubelet is the kubelet's registration service on <dir>/kubelet.sock.
type fakeKubelet struct {
	api.UnimplementedRegistrationServer
	registered chan *api.RegisterRequest
}

func (k *fakeKubelet) Register(_ context.Context, r *api.RegisterRequest) (*api.Empty, error) {
	k.registered <- r
	return &api.Empty{}, nil
}

func startKubelet(t *testing.T) (string, *fakeKubelet) {
	// Unix socket paths are short (108 bytes): not under t.TempDir()'s long name.
	dir, err := os.MkdirTemp("", "dp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	listener, err := net.Listen("unix", filepath.Join(dir, "kubelet.sock"))
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKubelet{registered: make(chan *api.RegisterRequest, 4)}
	server := grpc.NewServer()
	api.RegisterRegistrationServer(server, k)
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	return dir, k
}

func dial(t *testing.T, dir, endpoint string) api.DevicePluginClient {
	conn, err := grpc.NewClient("unix://"+filepath.Join(dir, endpoint),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return api.NewDevicePluginClient(conn)
}

func TestPluginRegistersListsAllocatesAndReportsHealth(t *testing.T) {
	tr := newFakeTree(t)
	tr.f2Slot(0x1f, "slot0-user")
	tr.f2Slot(0x30, "slot1-user", "slot1-dma")
	dir, kubelet := startKubelet(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	plugin := NewPlugin(Config{SysRoot: tr.sys, DevRoot: tr.dev, PluginDir: dir,
		Interval: 10 * time.Millisecond}, "xilinx/aws-vu47p-f2")
	done := make(chan error, 1)
	go func() { done <- plugin.Run(ctx) }()

	// It registers its resource and socket with the kubelet, API v1beta1.
	reg := <-kubelet.registered
	if reg.Version != api.Version || reg.ResourceName != "xilinx/aws-vu47p-f2" {
		t.Fatalf("registered %+v", reg)
	}
	client := dial(t, dir, reg.Endpoint)
	stream, err := client.ListAndWatch(ctx, &api.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	healthy := []*api.Device{{ID: "slot0", Health: api.Healthy}, {ID: "slot1", Health: api.Healthy}}
	if !sameDevices(first.Devices, healthy) {
		t.Fatalf("listed %v", first.Devices)
	}

	// A container given slot1 gets exactly slot1's nodes, at the same /dev paths.
	resp, err := client.Allocate(ctx, &api.AllocateRequest{ContainerRequests: []*api.ContainerAllocateRequest{
		{DevicesIds: []string{"slot1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.ContainerResponses[0]
	want := []*api.DeviceSpec{
		{HostPath: filepath.Join(tr.dev, "slot1-dma"), ContainerPath: "/dev/slot1-dma", Permissions: "rw"},
		{HostPath: filepath.Join(tr.dev, "slot1-user"), ContainerPath: "/dev/slot1-user", Permissions: "rw"},
	}
	if len(got.Devices) != len(want) {
		t.Fatalf("allocated %v", got.Devices)
	}
	for i := range want {
		if got.Devices[i].HostPath != want[i].HostPath || got.Devices[i].ContainerPath != want[i].ContainerPath ||
			got.Devices[i].Permissions != want[i].Permissions {
			t.Fatalf("allocated %v, want %v", got.Devices, want)
		}
	}
	if got.Envs[SlotsEnv] != "1" {
		t.Fatalf("envs %v", got.Envs)
	}
	if _, err := client.Allocate(ctx, &api.AllocateRequest{ContainerRequests: []*api.ContainerAllocateRequest{
		{DevicesIds: []string{"slot9"}}}}); err == nil {
		t.Fatal("an unknown device must be refused")
	}

	// slot0's node goes away: the next list says slot0 is Unhealthy, slot1 still Healthy.
	if err := os.Remove(filepath.Join(tr.dev, "slot0-user")); err != nil {
		t.Fatal(err)
	}
	next, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if !sameDevices(next.Devices, []*api.Device{{ID: "slot0", Health: api.Unhealthy}, healthy[1]}) {
		t.Fatalf("after losing a node: %v", next.Devices)
	}

	// The kubelet restarts (its directory is emptied): the plugin registers again.
	if err := os.Remove(filepath.Join(dir, reg.Endpoint)); err != nil {
		t.Fatal(err)
	}
	again := <-kubelet.registered
	if again.Endpoint != reg.Endpoint {
		t.Fatalf("registered again as %+v", again)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, reg.Endpoint)); !os.IsNotExist(err) {
		t.Fatal("the socket must be gone after stopping")
	}
}

func TestPluginServesOnlyItsResource(t *testing.T) {
	tr := newFakeTree(t)
	tr.f2Slot(0x1f, "slot0-user")
	tr.function("0000:00:1e.0", 0x1d0f, 0x1041)
	tr.function("0000:00:1d.0", 0x1d0f, 0x1042)
	plugin := NewPlugin(Config{SysRoot: tr.sys, DevRoot: tr.dev}, "xilinx/aws-vu9p-f1")
	if _, err := plugin.Refresh(); err != nil {
		t.Fatal(err)
	}
	// The F1 slot is slot 0 (lowest PCI address); the F2 slot is not this plugin's.
	if !sameDevices(plugin.list(), []*api.Device{{ID: "slot0", Health: api.Healthy}}) {
		t.Fatalf("listed %v", plugin.list())
	}
}

func sameDevices(got, want []*api.Device) bool {
	simple := func(ds []*api.Device) [][2]string {
		out := [][2]string{}
		for _, d := range ds {
			out = append(out, [2]string{d.ID, d.Health})
		}
		return out
	}
	return reflect.DeepEqual(simple(got), simple(want))
}
