package dashboard

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"path"
	"time"
)

// keepaliveEvery is how often an idle event stream carries a ping, so a page whose master died without closing
// the connection notices within a few of them. A variable only so that tests need not wait 5 s.
var keepaliveEvery = 5 * time.Second

// writeTimeout bounds one write to an event stream: a page that stopped reading loses its stream instead of
// holding a goroutine forever.
const writeTimeout = 15 * time.Second

//go:embed web
var web embed.FS

// assets are the files served under /assets/, with their content types; the page needs nothing else, and
// nothing from the internet.
var assets = map[string]string{
	"app.js":    "text/javascript; charset=utf-8",
	"style.css": "text/css; charset=utf-8",
}

// contentSecurity forbids the page any origin but its own: a dashboard that worked only online would be blank
// exactly when the network is the problem.
const contentSecurity = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// Handler serves "/" (the page), static assets under "/assets/", "/api/state" (the Snapshot as JSON) and
// "/api/events" (text/event-stream: an "update" event carrying a Delta on every Update, and a "ping" event every
// few seconds so the page notices a dead master). Every other path is 404.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		serveFile(w, r, "web/index.html", "text/html; charset=utf-8")
	})
	mux.HandleFunc("GET /assets/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		ct, ok := assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		serveFile(w, r, path.Join("web", name), ct)
	})
	mux.HandleFunc("GET /api/state", d.serveState)
	mux.HandleFunc("GET /api/events", d.serveEvents)
	return mux
}

func serveFile(w http.ResponseWriter, r *http.Request, name, contentType string) {
	data, err := web.ReadFile(name)
	if err != nil {
		http.Error(w, "missing embedded file "+name, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", contentSecurity)
	h.Set("X-Content-Type-Options", "nosniff")
	// The files change only with the binary; no-cache makes a browser revalidate (cheaply, by ETag) after an
	// upgrade instead of running an old script against a new API.
	h.Set("Cache-Control", "no-cache")
	sum := fnv.New64a()
	_, _ = sum.Write(data)
	h.Set("ETag", fmt.Sprintf(`"%x"`, sum.Sum64()))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func (d *Dashboard) serveState(w http.ResponseWriter, r *http.Request) {
	body, err := json.Marshal(d.Snapshot())
	if err != nil {
		http.Error(w, "encode state: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	c := d.subscribe()
	if c == nil {
		http.Error(w, "too many dashboard pages connected, or the master is stopping", http.StatusServiceUnavailable)
		return
	}
	defer d.unsubscribe(c)
	shutdown := d.serverDone(r)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	// send writes one chunk and flushes it; an error means the page is gone (or stopped reading).
	send := func(chunk string) error {
		if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := io.WriteString(w, chunk); err != nil {
			return err
		}
		return rc.Flush()
	}
	// A keep-alive connection outlives the stream: the next response on it must not inherit the deadline.
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()
	// The page reconnects 2 s after losing the stream; "hello" tells it the stream is up, so it can drop its
	// "master unreachable" banner before the next evaluation.
	if send("retry: 2000\nevent: hello\ndata: {}\n\n") != nil {
		return
	}
	tick := time.NewTicker(keepaliveEvery)
	defer tick.Stop()
	for {
		var chunk string
		select {
		case <-r.Context().Done():
			return
		case <-d.done:
			return
		case <-shutdown:
			return
		case body := <-c.ch:
			chunk = "event: update\ndata: " + string(body) + "\n\n"
		case <-tick.C:
			// A comment keeps proxies from closing an idle stream; the ping event is what the page's watchdog sees.
			chunk = ": keepalive\nevent: ping\ndata: {}\n\n"
		}
		if send(chunk) != nil {
			return
		}
	}
}
