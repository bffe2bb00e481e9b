package amqpx

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/warren-mq/warren/shared/config"
)

// FromConfig builds connection options from the configuration; name labels the connection in the broker.
func FromConfig(c config.AMQP, name string) (Options, error) {
	o := Options{URL: c.URL, Name: name, Heartbeat: c.Heartbeat, ReconnectMax: c.ReconnectMax}
	t := c.TLS
	if t.CAFile == "" && t.CertFile == "" && t.ServerName == "" {
		return o, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return o, fmt.Errorf("amqp.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("amqp.tls.ca_file: no PEM certificate in %s", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return o, fmt.Errorf("amqp.tls.cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	o.TLS = cfg
	return o, nil
}
