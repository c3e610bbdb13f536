package main

import (
	"context"
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hakube/hakube/internal/testcluster"
)

func query(t *testing.T, r *resolver, name string, typ dnsmessage.Type) (dnsmessage.RCode, []netip.Addr) {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	q, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.answer(context.Background(), q)
	if err != nil {
		t.Fatalf("answer %s: %v", name, err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil {
		t.Fatalf("unpack the answer to %s: %v", name, err)
	}
	if m.ID != 7 || !m.Response || len(m.Questions) != 1 || m.Questions[0].Name.String() != name {
		t.Errorf("answer to %s: header %+v, questions %v", name, m.Header, m.Questions)
	}
	var ips []netip.Addr
	for _, a := range m.Answers {
		if ar, ok := a.Body.(*dnsmessage.AResource); ok {
			ips = append(ips, netip.AddrFrom4(ar.A))
		}
	}
	return m.RCode, ips
}

// TestResolver answers from a real API server: a Service's ClusterIP, a
// headless Service's ready endpoints, NXDOMAIN for anything else.
func TestResolver(t *testing.T) {
	cl := testcluster.Start(t, testcluster.Options{})
	kube, err := kubernetes.NewForConfig(cl.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc := func(name, clusterIP string) {
		_, err := kube.CoreV1().Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.ServiceSpec{ClusterIP: clusterIP, Ports: []corev1.ServicePort{{Port: 5432}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	svc("db", "10.43.0.50")
	svc("db-headless", "None")
	ready, notReady := true, false
	host := "db-0"
	_, err = kube.DiscoveryV1().EndpointSlices("default").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "db-headless-x", Labels: map[string]string{discoveryv1.LabelServiceName: "db-headless"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.42.0.7"}, Hostname: &host, Conditions: discoveryv1.EndpointConditions{Ready: &ready}},
			{Addresses: []string{"10.42.0.8"}, Conditions: discoveryv1.EndpointConditions{Ready: &notReady}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &resolver{kube: kube, suffix: ".svc.cluster.local."}
	for _, c := range []struct {
		name  string
		typ   dnsmessage.Type
		rcode dnsmessage.RCode
		ips   string
	}{
		{"db.default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "[10.43.0.50]"},
		{"DB.Default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "[10.43.0.50]"},
		{"db.default.svc.cluster.local.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, "[]"},
		{"db-headless.default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "[10.42.0.7]"},
		{"db-0.db-headless.default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "[10.42.0.7]"},
		{"db-9.db-headless.default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeNameError, "[]"},
		{"db.default.svc.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeNameError, "[]"},
		{"missing.default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeNameError, "[]"},
		{"registry-1.docker.io.", dnsmessage.TypeA, dnsmessage.RCodeNameError, "[]"},
	} {
		rcode, ips := query(t, r, c.name, c.typ)
		if rcode != c.rcode || fmtIPs(ips) != c.ips {
			t.Errorf("%s %s = %s %s, want %s %s", c.typ, c.name, rcode, fmtIPs(ips), c.rcode, c.ips)
		}
	}
}

func fmtIPs(ips []netip.Addr) string {
	s := "["
	for i, ip := range ips {
		if i > 0 {
			s += " "
		}
		s += ip.String()
	}
	return s + "]"
}
