package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	api "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

// SlotsEnv tells a container which slots it was given, as the `-S` numbers the AWS FPGA
// tools and fpga_pci_attach(slot_id, ...) take.
const SlotsEnv = "FPGA_BURST_SLOTS"

// Config is where the plugin looks; every path is configurable so tests use fake trees.
type Config struct {
	SysRoot   string // /sys
	DevRoot   string // /dev
	PluginDir string // the kubelet's device-plugins directory, holding kubelet.sock
	Interval  time.Duration
}

// Plugin serves one board resource to the kubelet (one gRPC server and socket per resource,
// as the device-plugin API asks).
type Plugin struct {
	api.UnimplementedDevicePluginServer
	cfg      Config
	resource string
	socket   string

	mu      sync.Mutex
	slots   map[string]Slot
	devices []*api.Device
	changed chan struct{}
	stop    chan struct{}
	server  *grpc.Server
}

func NewPlugin(cfg Config, resource string) *Plugin {
	name := "fpga-burst-" + strings.NewReplacer("/", "-", ".", "-").Replace(resource) + ".sock"
	return &Plugin{cfg: cfg, resource: resource, socket: filepath.Join(cfg.PluginDir, name),
		slots: map[string]Slot{}, changed: make(chan struct{}, 1), stop: make(chan struct{})}
}

// Refresh rescans the tree: the slots of this resource found at start stay listed, marked
// Unhealthy when they fail the health check or vanish; new ones are added. It reports
// whether the list the kubelet sees changed.
func (p *Plugin) Refresh() (bool, error) {
	found, err := Discover(p.cfg.SysRoot)
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	present := map[string]bool{}
	for _, s := range found {
		if s.Resource == p.resource {
			present[s.ID()] = true
			if _, known := p.slots[s.ID()]; !known {
				p.slots[s.ID()] = s
			}
		}
	}
	known := make([]Slot, 0, len(p.slots))
	for _, s := range p.slots {
		known = append(known, s)
	}
	sort.Slice(known, func(i, j int) bool { return known[i].Index < known[j].Index })
	devices := make([]*api.Device, 0, len(known))
	for _, s := range known {
		health := api.Healthy
		if !present[s.ID()] || !Healthy(s, p.cfg.SysRoot, p.cfg.DevRoot) {
			health = api.Unhealthy
		}
		devices = append(devices, &api.Device{ID: s.ID(), Health: health})
	}
	if reflect.DeepEqual(devices, p.devices) {
		return false, nil
	}
	p.devices = devices
	select {
	case p.changed <- struct{}{}:
	default:
	}
	return true, nil
}

func (p *Plugin) list() []*api.Device {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*api.Device(nil), p.devices...)
}

func (p *Plugin) GetDevicePluginOptions(context.Context, *api.Empty) (*api.DevicePluginOptions, error) {
	return &api.DevicePluginOptions{}, nil
}

// ListAndWatch sends the list now and again on every change, until the plugin stops.
func (p *Plugin) ListAndWatch(_ *api.Empty, stream grpc.ServerStreamingServer[api.ListAndWatchResponse]) error {
	var sent []*api.Device
	for {
		// A change signalled before this stream began is already in the list it gets.
		if now := p.list(); sent == nil || !reflect.DeepEqual(now, sent) {
			if err := stream.Send(&api.ListAndWatchResponse{Devices: now}); err != nil {
				return err
			}
			sent = now
		}
		select {
		case <-p.changed:
		case <-p.stop:
			return nil
		case <-stream.Context().Done():
			return nil
		}
	}
}

// Allocate gives each container exactly the device nodes of the slots it was allocated,
// at the same paths under /dev, and their slot numbers in FPGA_BURST_SLOTS.
func (p *Plugin) Allocate(_ context.Context, req *api.AllocateRequest) (*api.AllocateResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	resp := &api.AllocateResponse{}
	for _, c := range req.ContainerRequests {
		out := &api.ContainerAllocateResponse{Envs: map[string]string{}}
		var indexes []string
		for _, id := range c.DevicesIds {
			s, ok := p.slots[id]
			if !ok {
				return nil, fmt.Errorf("%s: unknown device %q", p.resource, id)
			}
			indexes = append(indexes, strconv.Itoa(s.Index))
			for _, n := range s.DevNodes {
				out.Devices = append(out.Devices, &api.DeviceSpec{
					HostPath: filepath.Join(p.cfg.DevRoot, n), ContainerPath: filepath.Join("/dev", n),
					Permissions: "rw",
				})
			}
		}
		out.Envs[SlotsEnv] = strings.Join(indexes, ",")
		resp.ContainerResponses = append(resp.ContainerResponses, out)
	}
	return resp, nil
}

// Serve listens on the plugin's socket and registers it with the kubelet.
func (p *Plugin) Serve() error {
	if err := os.Remove(p.socket); err != nil && !os.IsNotExist(err) {
		return err
	}
	listener, err := net.Listen("unix", p.socket)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", p.socket, err)
	}
	p.server = grpc.NewServer()
	api.RegisterDevicePluginServer(p.server, p)
	go func() { _ = p.server.Serve(listener) }()
	return p.register()
}

func (p *Plugin) register() error {
	kubelet := filepath.Join(p.cfg.PluginDir, filepath.Base(api.KubeletSocket))
	conn, err := grpc.NewClient("unix://"+kubelet, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = api.NewRegistrationClient(conn).Register(ctx, &api.RegisterRequest{
		Version: api.Version, Endpoint: filepath.Base(p.socket), ResourceName: p.resource,
		Options: &api.DevicePluginOptions{},
	})
	if err != nil {
		return fmt.Errorf("cannot register %s with the kubelet at %s: %w", p.resource, kubelet, err)
	}
	log.Printf("registered %s with the kubelet: %d slot(s)", p.resource, len(p.list()))
	return nil
}

// Stop ends ListAndWatch streams and the server, and removes the socket.
func (p *Plugin) Stop() {
	close(p.stop)
	if p.server != nil {
		p.server.Stop()
	}
	_ = os.Remove(p.socket)
}

// Run serves until ctx ends: it rescans every Interval, and re-registers when its socket
// is gone, which is how a restarted kubelet (it empties the directory) shows.
func (p *Plugin) Run(ctx context.Context) error {
	if _, err := p.Refresh(); err != nil {
		return err
	}
	if err := p.Serve(); err != nil {
		return err
	}
	defer func() { p.Stop() }()
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if _, err := p.Refresh(); err != nil {
			log.Printf("%s: rescan failed: %v", p.resource, err)
		}
		if _, err := os.Stat(p.socket); os.IsNotExist(err) {
			log.Printf("%s: socket gone (kubelet restarted?); registering again", p.resource)
			p.server.Stop()
			p.stop = make(chan struct{})
			if err := p.Serve(); err != nil {
				log.Printf("%s: %v", p.resource, err)
			}
		}
	}
}
