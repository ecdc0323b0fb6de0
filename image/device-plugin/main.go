// fpga-burst-device-plugin advertises a node's AWS FPGA slots to its kubelet as extended
// resources (xilinx/aws-vu47p-f2 on F2), through the kubelet device-plugin API v1beta1.
//
//	fpga-burst-device-plugin            serve every board kind found, until SIGTERM
//	fpga-burst-device-plugin -list      print the slots found (JSON) and exit
//	fpga-burst-device-plugin -boards    print the board kinds it knows (JSON) and exit
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os/signal"
	"sync"
	"syscall"
	"time"

	api "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

func main() {
	cfg := Config{}
	flag.StringVar(&cfg.SysRoot, "sys-root", "/sys", "sysfs root")
	flag.StringVar(&cfg.DevRoot, "dev-root", "/dev", "device node root")
	flag.StringVar(&cfg.PluginDir, "plugin-dir", api.DevicePluginPath, "the kubelet's device-plugins directory")
	flag.DurationVar(&cfg.Interval, "interval", 10*time.Second, "rescan and health-check interval")
	list := flag.Bool("list", false, "print the slots found as JSON and exit")
	boards := flag.Bool("boards", false, "print the board kinds known as JSON and exit")
	flag.Parse()
	log.SetPrefix("fpga-burst-device-plugin: ")
	log.SetFlags(0)
	if *boards {
		emit(Boards)
		return
	}
	slots, err := Discover(cfg.SysRoot)
	if err != nil {
		log.Fatal(err)
	}
	if *list {
		emit(slots)
		return
	}
	resources := map[string]bool{}
	for _, s := range slots {
		resources[s.Resource] = true
	}
	if len(resources) == 0 {
		// Exit, not idle: the unit restarts it, and an instance with no slot is a problem
		// to see (the launch hook abandons a node that never advertises boards).
		log.Fatalf("no FPGA slots found under %s/bus/pci/devices", cfg.SysRoot)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	var wg sync.WaitGroup
	failed := make(chan error, len(resources))
	for resource := range resources {
		wg.Add(1)
		go func(p *Plugin) {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				failed <- err
				cancel()
			}
		}(NewPlugin(cfg, resource))
	}
	wg.Wait()
	close(failed)
	for err := range failed {
		log.Fatal(err)
	}
}

func emit(v any) {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))
}
