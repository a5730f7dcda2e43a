// Command netproxy forwards TCP connections to a target, delaying every
// chunk of data each way:
//
//	netproxy -listen 127.0.0.1:16443 -target 127.0.0.1:6443 -delay 5ms
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/k8sh/k8sh/tools/netproxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	target := flag.String("target", "", "host:port to forward to")
	delay := flag.Duration("delay", 0, "delay of every chunk of data, each way")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "netproxy: -target is required")
		os.Exit(2)
	}
	p, err := netproxy.Start(*listen, *target, *delay)
	if err != nil {
		fmt.Fprintln(os.Stderr, "netproxy:", err)
		os.Exit(1)
	}
	fmt.Printf("netproxy: %s -> %s, delay %s each way\n", p.Addr(), *target, *delay)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	p.Close()
}
