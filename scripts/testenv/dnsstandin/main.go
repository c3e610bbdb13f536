// Command cluster-dns-standin is the test environment's STAND-IN for the
// cluster DNS k3s ships (CoreDNS): it answers A queries for
// SERVICE.NAMESPACE.svc.cluster.local from the API server (the ClusterIP, or
// the ready endpoints of a headless Service) and nothing else; every other
// name is NXDOMAIN, as nothing outside the machine is reachable here. It
// listens on the address pods get as their nameserver (the CNI bridge's
// gateway), UDP only.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "admin kubeconfig of the cluster")
	listen := flag.String("listen", "", "UDP address to answer on, e.g. 10.42.0.1:53")
	domain := flag.String("domain", "cluster.local", "cluster domain")
	flag.Parse()
	if *kubeconfig == "" || *listen == "" {
		fmt.Fprintln(os.Stderr, "usage: cluster-dns-standin --kubeconfig FILE --listen ADDR:PORT [--domain cluster.local]")
		os.Exit(2)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("cluster-dns-standin: load %s: %v", *kubeconfig, err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatalf("cluster-dns-standin: %v", err)
	}
	conn, err := net.ListenPacket("udp", *listen)
	if err != nil {
		log.Fatalf("cluster-dns-standin: listen on %s: %v", *listen, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() { <-ctx.Done(); conn.Close() }()
	log.Printf("cluster-dns-standin: STAND-IN for the cluster DNS, answering *.svc.%s on udp %s", *domain, *listen)
	r := &resolver{kube: kube, suffix: ".svc." + strings.TrimSuffix(*domain, ".") + "."}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Printf("cluster-dns-standin: read: %v", err)
			continue
		}
		resp, err := r.answer(ctx, buf[:n])
		if err != nil {
			log.Printf("cluster-dns-standin: %v", err)
			continue
		}
		_, _ = conn.WriteTo(resp, from)
	}
}

type resolver struct {
	kube   kubernetes.Interface
	suffix string // ".svc.cluster.local."
}

// answer builds the reply to one query message.
func (r *resolver) answer(ctx context.Context, query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, fmt.Errorf("parse query: %w", err)
	}
	q, err := p.Question()
	if err != nil {
		return nil, fmt.Errorf("parse question: %w", err)
	}
	reply := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	ips, found := r.lookup(ctx, strings.ToLower(q.Name.String()))
	if !found {
		reply.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, reply)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if q.Type == dnsmessage.TypeA {
		for _, ip := range ips {
			rh := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 5}
			if err := b.AResource(rh, dnsmessage.AResource{A: ip.As4()}); err != nil {
				return nil, err
			}
		}
	}
	log.Printf("%s %s -> %v (found %t)", q.Type, q.Name, ips, found)
	return b.Finish()
}

// lookup resolves SERVICE.NAMESPACE.svc.DOMAIN. (and HOST.SERVICE.NAMESPACE...
// for a headless Service's pods) to IPv4 addresses.
func (r *resolver) lookup(ctx context.Context, name string) ([]netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, r.suffix)
	if !ok {
		return nil, false
	}
	parts := strings.Split(rest, ".")
	var host, svc, ns string
	switch len(parts) {
	case 2:
		svc, ns = parts[0], parts[1]
	case 3:
		host, svc, ns = parts[0], parts[1], parts[2]
	default:
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := r.kube.CoreV1().Services(ns).Get(ctx, svc, metav1.GetOptions{})
	if err != nil {
		if !apierrors.IsNotFound(err) {
			log.Printf("get service %s/%s: %v", ns, svc, err)
		}
		return nil, false
	}
	if host == "" && s.Spec.ClusterIP != "" && s.Spec.ClusterIP != "None" {
		ip, err := netip.ParseAddr(s.Spec.ClusterIP)
		return []netip.Addr{ip}, err == nil
	}
	slices, err := r.kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		log.Printf("list endpoints of %s/%s: %v", ns, svc, err)
		return nil, false
	}
	var ips []netip.Addr
	for _, sl := range slices.Items {
		for _, ep := range sl.Endpoints {
			if host != "" && (ep.Hostname == nil || *ep.Hostname != host) {
				continue
			}
			if host == "" && ep.Conditions.Ready != nil && !*ep.Conditions.Ready && !s.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, a := range ep.Addresses {
				if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() {
					ips = append(ips, ip)
				}
			}
		}
	}
	if host != "" && len(ips) == 0 {
		return nil, false
	}
	return ips, true
}
