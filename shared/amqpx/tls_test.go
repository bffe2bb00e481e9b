//go:build integration

package amqpx_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/testkit"
)

// pki is a throw-away CA with one server and one client certificate, written as PEM files.
type pki struct {
	dir                       string
	caFile, certFile, keyFile string
	serverCert                tls.Certificate
	caPool                    *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "warren test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, usage x509.ExtKeyUsage, serial int64) (certPEM, keyPEM []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	p := pki{dir: dir, caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "client.pem"), keyFile: filepath.Join(dir, "client.key")}
	write := func(path string, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	c, k := issue("warren client", x509.ExtKeyUsageClientAuth, 2)
	write(p.certFile, c)
	write(p.keyFile, k)
	sc, sk := issue("localhost", x509.ExtKeyUsageServerAuth, 3)
	if p.serverCert, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca)
	return p
}

// tlsFront terminates TLS (verifying client certificates against the test CA) in front of the real broker, the
// way a TLS listener or a TLS-terminating proxy in front of RabbitMQ would.
func tlsFront(t *testing.T, p pki, backend string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.serverCert},
		ClientCAs: p.caPool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

func TestAMQPSWithTestCA(t *testing.T) {
	plain, _ := url.Parse(testkit.Broker(t))
	p := newPKI(t)
	front := tlsFront(t, p, plain.Host)
	_, port, _ := net.SplitHostPort(front)
	u := *plain
	u.Scheme, u.Host = "amqps", "localhost:"+port

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts, err := amqpx.FromConfig(config.AMQP{URL: u.String(), TLS: config.TLS{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}}, "tls-test")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := amqpx.Dial(ctx, opts)
	if err != nil {
		t.Fatalf("amqps with the test CA and a client certificate: %v", err)
	}
	ch := testkit.Channel(t, conn)
	if _, err := ch.QueueDeclare("tls-check", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()

	// Without the CA the server is not trusted; without a client certificate the server refuses us.
	for name, tc := range map[string]config.TLS{
		"no CA":          {CertFile: p.certFile, KeyFile: p.keyFile},
		"no client cert": {CAFile: p.caFile},
	} {
		opts, err := amqpx.FromConfig(config.AMQP{URL: u.String(), TLS: tc}, "tls-test")
		if err != nil {
			t.Fatal(err)
		}
		if conn, err := amqpx.Dial(ctx, opts); err == nil {
			_ = conn.Close()
			t.Errorf("%s: dial succeeded", name)
		} else if strings.Contains(err.Error(), "guest:guest") {
			t.Errorf("%s: error leaks the password: %v", name, err)
		}
	}
	if _, err := amqpx.FromConfig(config.AMQP{URL: u.String(), TLS: config.TLS{CAFile: filepath.Join(p.dir, "missing.pem")}}, "x"); err == nil ||
		!strings.Contains(err.Error(), "amqp.tls.ca_file") {
		t.Errorf("missing CA file: %v", err)
	}
}
