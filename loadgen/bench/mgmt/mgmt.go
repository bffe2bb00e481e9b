// Package mgmt is the small part of RabbitMQ's management HTTP API the benchmarks need: the broker's
// version, and a throw-away vhost per benchmark so that no queue of one run, and nothing else on the broker,
// leaks into another's numbers.
package mgmt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls the management API with the broker user's credentials.
type Client struct {
	base       string
	user, pass string
	http       *http.Client
}

// New returns a client for the management API at base (e.g. http://127.0.0.1:15672); empty base means port
// 15672 on the AMQP URL's host. The credentials are the AMQP URL's.
func New(amqpURL, base string) (*Client, error) {
	u, err := url.Parse(amqpURL)
	if err != nil {
		return nil, fmt.Errorf("management API: parse broker URL: %w", err)
	}
	if base == "" {
		base = "http://" + u.Hostname() + ":15672"
	}
	pass, _ := u.User.Password()
	return &Client{base: strings.TrimRight(base, "/"), user: u.User.Username(), pass: pass,
		http: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}, nil
}

// Overview is what the broker says about itself.
type Overview struct {
	// RabbitMQ is the broker's version, e.g. "3.10.8".
	RabbitMQ string `json:"rabbitmq_version"`
	// Erlang is the version of the Erlang runtime the broker runs on.
	Erlang string `json:"erlang_version"`
}

// Overview returns the broker's and Erlang's versions.
func (c *Client) Overview(ctx context.Context) (Overview, error) {
	var o Overview
	body, err := c.do(ctx, http.MethodGet, "/api/overview", "")
	if err != nil {
		return o, err
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return o, fmt.Errorf("management API: decode overview: %w", err)
	}
	return o, nil
}

// TempVhost creates a fresh vhost named prefix-<random> that the client's user may fully use, and returns
// the AMQP URL for it (amqpURL with the vhost as path) and a function that deletes it with everything in it.
func (c *Client) TempVhost(ctx context.Context, amqpURL, prefix string) (string, func(context.Context) error, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("vhost name: %w", err)
	}
	vhost := prefix + "-" + hex.EncodeToString(b)
	if _, err := c.do(ctx, http.MethodPut, "/api/vhosts/"+url.PathEscape(vhost), ""); err != nil {
		return "", nil, err
	}
	del := func(ctx context.Context) error {
		_, err := c.do(ctx, http.MethodDelete, "/api/vhosts/"+url.PathEscape(vhost), "")
		return err
	}
	perm := `{"configure":".*","write":".*","read":".*"}`
	if _, err := c.do(ctx, http.MethodPut, "/api/permissions/"+url.PathEscape(vhost)+"/"+url.PathEscape(c.user), perm); err != nil {
		_ = del(ctx)
		return "", nil, err
	}
	u, err := url.Parse(amqpURL)
	if err != nil {
		_ = del(ctx)
		return "", nil, fmt.Errorf("parse broker URL: %w", err)
	}
	u.Path = "/" + vhost
	u.RawPath = ""
	return u.String(), del, nil
}

func (c *Client) do(ctx context.Context, method, path, body string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("management API %s %s: %w", method, path, err)
	}
	req.SetBasicAuth(c.user, c.pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("management API %s %s: %w (is the rabbitmq_management plugin on?)", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("management API %s %s: read: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("management API %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	return data, nil
}

// BrokerPid returns the operating-system process id of the broker's (first) node, so its CPU can be read
// from /proc when it runs on this machine.
func (c *Client) BrokerPid(ctx context.Context) (int, error) {
	body, err := c.do(ctx, http.MethodGet, "/api/nodes", "")
	if err != nil {
		return 0, err
	}
	var nodes []struct {
		OSPid string `json:"os_pid"`
	}
	if err := json.Unmarshal(body, &nodes); err != nil {
		return 0, fmt.Errorf("management API: decode nodes: %w", err)
	}
	if len(nodes) == 0 {
		return 0, fmt.Errorf("management API: no nodes")
	}
	pid, err := strconv.Atoi(nodes[0].OSPid)
	if err != nil {
		return 0, fmt.Errorf("management API: node os_pid %q: %w", nodes[0].OSPid, err)
	}
	return pid, nil
}
