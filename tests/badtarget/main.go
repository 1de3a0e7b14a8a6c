// Command badtarget is a misbehaving scrape target for Kiln's end-to-end
// tests: one loopback listener per mode, each answering every request
// (any path) the same bad way:
//
//	hang     never answers (until the client gives up)
//	status500 answers 500 Internal Server Error
//	garbage  answers 200 with bytes that are not a profile
//	huge     answers 200 with a 100 MB body
//	bomb     answers 200 with a gzip bomb (1 GiB of zeros, ~1 MB gzipped)
//	cut      announces a 1 MB body, sends half of it and closes
//
// Flags: -modes (comma-separated, default all). For each mode, one stdout
// line "MODE HOST:PORT" once it listens, then "ready". Counts of requests
// per mode are served on the first listener's /requests as "MODE N" lines.
// Standard library only.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

var (
	mu       sync.Mutex
	requests = map[string]int{}
)

func count(mode string) {
	mu.Lock()
	requests[mode]++
	mu.Unlock()
}

// bomb is built once: gzip of 1 GiB of zeros.
func makeBomb() []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 1024; i++ {
		w.Write(zeros)
	}
	w.Close()
	return b.Bytes()
}

func handler(mode string, bomb []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		count(mode)
		switch mode {
		case "hang":
			<-r.Context().Done()
		case "status500":
			http.Error(w, "something broke", http.StatusInternalServerError)
		case "garbage":
			buf := make([]byte, 4096)
			rand.Read(buf)
			w.Write(buf)
		case "huge":
			w.Header().Set("Content-Type", "application/octet-stream")
			chunk := make([]byte, 1<<20)
			for i := 0; i < 100; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "bomb":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(bomb)
		case "cut":
			hj, ok := w.(http.Hijacker)
			if !ok {
				return
			}
			conn, bw, err := hj.Hijack()
			if err != nil {
				return
			}
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", 1<<20)
			bw.Write(make([]byte, 1<<19))
			bw.Flush()
			conn.Close()
		}
	}
}

func main() {
	modes := flag.String("modes", "hang,status500,garbage,huge,bomb,cut", "modes")
	flag.Parse()
	bomb := makeBomb()
	var first *http.ServeMux
	for _, mode := range strings.Split(*modes, ",") {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		mux := http.NewServeMux()
		if first == nil {
			first = mux
			mux.HandleFunc("/requests", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				for m, n := range requests {
					fmt.Fprintf(w, "%s %d\n", m, n)
				}
			})
		}
		mux.HandleFunc("/", handler(mode, bomb))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		fmt.Printf("%s %s\n", mode, ln.Addr())
	}
	fmt.Println("ready")
	select {}
}
