// Command fakek8s is a fake Kubernetes API server for Kiln's
// kubernetes_sd_configs tests: the pod list and watch endpoints of
// /api/v1, with bearer token checks, over HTTP or HTTPS, driven by a
// control API on a second, plain HTTP listener. Standard library only.
//
// Usage:
//
//	fakek8s -pods pods.json [-token-file F] [-tls -ca-out F ...]
//
// It prints "listening on HOST:PORT" (the API) and "control on HOST:PORT"
// (the control API) on stdout once both listen.
//
// API:
//
//	GET /api/v1/pods, /api/v1/namespaces/NS/pods
//	    a list (the current PodList, items of namespace NS only), or with
//	    watch=1 a watch stream: chunked, one JSON event per line, written
//	    as the control API sends them. A watch ends after timeoutSeconds.
//	    Every request's URI is recorded. With -token-file, the request
//	    must carry "Authorization: Bearer <the file's content, trimmed>"
//	    (the file is read at every request, so a test can rotate it);
//	    otherwise 401 with a v1.Status body.
//
// Control API:
//
//	PUT  /pods  replace the PodList that later lists return
//	POST /send  write the body, as it is, to every open watch (it may
//	            hold several lines, or part of one); answers the count
//	POST /end   end every open watch cleanly
//	POST /cut   abort every open watch (the client sees a broken stream)
//	POST /gone  answer the next watch request with HTTP 410 Gone
//	GET  /stats {"lists":N,"watches":N,"open":N,"requests":["URI",...]}
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

type command struct {
	data []byte
	end  bool
	cut  bool
}

type watcher struct {
	ch chan command
}

type server struct {
	tokenFile string

	mu       sync.Mutex
	pods     []byte
	lists    int
	watches  int
	requests []string
	watchers map[*watcher]bool
	goneNext bool
}

func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]interface{}{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]string{},
		"status": "Failure", "message": msg, "reason": reason, "code": code,
	})
}

func (s *server) authorized(r *http.Request) bool {
	if s.tokenFile == "" {
		return true
	}
	want, err := os.ReadFile(s.tokenFile)
	if err != nil {
		log.Printf("token file: %v", err)
		return false
	}
	return r.Header.Get("Authorization") ==
		"Bearer "+strings.TrimSpace(string(want))
}

// podsOf is the current list with only the items of namespace ns ("": all).
func (s *server) podsOf(ns string) ([]byte, error) {
	s.mu.Lock()
	body := s.pods
	s.mu.Unlock()
	if ns == "" {
		return body, nil
	}
	var list map[string]interface{}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	items, _ := list["items"].([]interface{})
	kept := []interface{}{}
	for _, it := range items {
		meta, _ := it.(map[string]interface{})["metadata"].(map[string]interface{})
		if meta["namespace"] == ns {
			kept = append(kept, it)
		}
	}
	list["items"] = kept
	return json.Marshal(list)
}

func (s *server) api(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.URL.RequestURI())
	s.mu.Unlock()
	ns := ""
	switch {
	case r.URL.Path == "/api/v1/pods":
	case strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/") &&
		strings.HasSuffix(r.URL.Path, "/pods"):
		ns = strings.TrimSuffix(strings.TrimPrefix(r.URL.Path,
			"/api/v1/namespaces/"), "/pods")
	default:
		writeStatus(w, 404, "NotFound", "the server could not find the "+
			"requested resource")
		return
	}
	if !s.authorized(r) {
		writeStatus(w, 401, "Unauthorized", "Unauthorized")
		return
	}
	if r.URL.Query().Get("watch") == "1" || r.URL.Query().Get("watch") == "true" {
		s.mu.Lock()
		gone := s.goneNext
		s.goneNext = false
		s.mu.Unlock()
		if gone {
			writeStatus(w, 410, "Expired", "too old resource version")
			return
		}
		s.watch(w, r)
		return
	}
	s.mu.Lock()
	s.lists++
	s.mu.Unlock()
	body, err := s.podsOf(ns)
	if err != nil {
		writeStatus(w, 500, "InternalError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func (s *server) watch(w http.ResponseWriter, r *http.Request) {
	timeout := 600
	if t, err := strconv.Atoi(r.URL.Query().Get("timeoutSeconds")); err == nil {
		timeout = t
	}
	wt := &watcher{ch: make(chan command, 64)}
	s.mu.Lock()
	s.watches++
	s.watchers[wt] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, wt)
		s.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	flusher := w.(http.Flusher)
	flusher.Flush()
	timer := time.NewTimer(time.Duration(timeout) * time.Second)
	defer timer.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-timer.C:
			return
		case c := <-wt.ch:
			if c.cut {
				// The client sees the stream end without its final chunk.
				panic(http.ErrAbortHandler)
			}
			if c.end {
				return
			}
			w.Write(c.data)
			flusher.Flush()
		}
	}
}

func (s *server) broadcast(c command) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for wt := range s.watchers {
		wt.ch <- c
	}
	return len(s.watchers)
}

func (s *server) control(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == "PUT" && r.URL.Path == "/pods":
		s.mu.Lock()
		s.pods = body
		s.mu.Unlock()
		fmt.Fprintln(w, "ok")
	case r.Method == "POST" && r.URL.Path == "/send":
		fmt.Fprintln(w, s.broadcast(command{data: body}))
	case r.Method == "POST" && r.URL.Path == "/end":
		fmt.Fprintln(w, s.broadcast(command{end: true}))
	case r.Method == "POST" && r.URL.Path == "/cut":
		fmt.Fprintln(w, s.broadcast(command{cut: true}))
	case r.Method == "POST" && r.URL.Path == "/gone":
		s.mu.Lock()
		s.goneNext = true
		s.mu.Unlock()
		fmt.Fprintln(w, "ok")
	case r.Method == "GET" && r.URL.Path == "/stats":
		s.mu.Lock()
		defer s.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]interface{}{
			"lists": s.lists, "watches": s.watches,
			"open": len(s.watchers), "requests": s.requests,
		})
	default:
		http.Error(w, "unknown control request", 404)
	}
}

type keyPair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

// issue makes a certificate for tmpl, signed by parent (self-signed when nil).
func issue(tmpl *x509.Certificate, parent *keyPair) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey,
		signerKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, key: key, der: der}, nil
}

func newCA(name string) (*keyPair, error) {
	return issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
}

func writePEM(path string, kp *keyPair, withKey bool) error {
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: kp.der})
	if withKey {
		der, err := x509.MarshalECPrivateKey(kp.key)
		if err != nil {
			return err
		}
		pem.Encode(&b, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

func tlsConfig(caOut, decoyOut, clientOut string, requireClient bool) (*tls.Config, error) {
	ca, err := newCA("fakek8s CA")
	if err != nil {
		return nil, err
	}
	srv, err := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"kubernetes.default.svc", "localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca)
	if err != nil {
		return nil, err
	}
	if caOut != "" {
		if err := writePEM(caOut, ca, false); err != nil {
			return nil, err
		}
	}
	if decoyOut != "" {
		decoy, err := newCA("fakek8s decoy CA")
		if err != nil {
			return nil, err
		}
		if err := writePEM(decoyOut, decoy, false); err != nil {
			return nil, err
		}
	}
	if clientOut != "" {
		client, err := issue(&x509.Certificate{
			Subject:     pkix.Name{CommonName: "kiln"},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}, ca)
		if err != nil {
			return nil, err
		}
		// The certificate and its key, in one PEM file each.
		if err := writePEM(clientOut+".crt", client, false); err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(client.key)
		if err != nil {
			return nil, err
		}
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
		if err := os.WriteFile(clientOut+".key", keyPEM, 0o600); err != nil {
			return nil, err
		}
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{
			Certificate: [][]byte{srv.der},
			PrivateKey:  srv.key,
		}},
	}
	if requireClient {
		pool := x509.NewCertPool()
		pool.AddCert(ca.cert)
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

func main() {
	podsFile := flag.String("pods", "", "the PodList JSON that lists return")
	tokenFile := flag.String("token-file", "", "the expected bearer token, read at every request")
	useTLS := flag.Bool("tls", false, "serve the API over HTTPS")
	caOut := flag.String("ca-out", "", "with -tls: write the CA certificate here")
	decoyOut := flag.String("decoy-ca-out", "", "with -tls: write an unrelated CA here")
	clientOut := flag.String("client-out", "", "with -tls: write a client certificate and key to PATH.crt and PATH.key")
	requireClient := flag.Bool("require-client-cert", false, "with -tls: require a client certificate from the CA")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("fakek8s: ")

	s := &server{tokenFile: *tokenFile, watchers: map[*watcher]bool{},
		pods: []byte(`{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}`)}
	if *podsFile != "" {
		b, err := os.ReadFile(*podsFile)
		if err != nil {
			log.Fatal(err)
		}
		s.pods = b
	}

	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctlLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	apiSrv := &http.Server{Handler: http.HandlerFunc(s.api),
		ErrorLog: log.New(io.Discard, "", 0)}
	if *useTLS {
		cfg, err := tlsConfig(*caOut, *decoyOut, *clientOut, *requireClient)
		if err != nil {
			log.Fatal(err)
		}
		apiLn = tls.NewListener(apiLn, cfg)
	}
	go func() { log.Fatal(apiSrv.Serve(apiLn)) }()
	go func() { log.Fatal(http.Serve(ctlLn, http.HandlerFunc(s.control))) }()
	fmt.Printf("listening on %s\ncontrol on %s\n", apiLn.Addr(), ctlLn.Addr())
	os.Stdout.Sync()
	select {}
}
