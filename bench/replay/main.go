// Command replay is the scrape benchmark's fleet (bench/scrape): it serves
// recorded pprof profiles on many loopback ports, as that many Go programs
// with net/http/pprof would, and logs when every request arrives so the
// benchmark can tell how punctually the scraper came.
//
// Targets. Target i listens on 127.0.0.1:(-base + i), i < -targets, each
// port a listener of one HTTP server (keep-alive, no timeouts). Go 1.19
// raises the soft RLIMIT_NOFILE to the hard one at start; replay checks the
// result leaves room for the listeners and several connections per target,
// and refuses to start otherwise.
//
// Profiles. -profiles DIR holds gzipped pprof files named TYPE-S-N.pb.gz:
// TYPE is cpu, heap, goroutine, allocs, mutex or block; S names the process
// they were recorded from; N (a number) their order of recording in it. All
// are loaded at start and served byte for byte, gzipped as Go serves them.
//   - cpu, heap, goroutine: all files of the type form one rotation, sorted
//     by S then N; target i's k-th request gets file (i + k) mod count.
//   - allocs, mutex, block are cumulative in Go: each S is a sequence of
//     snapshots of one process, in increasing order of N. Target i replays
//     sequence i mod (number of sequences), its k-th request getting step
//     k mod (steps), so the values grow from scrape to scrape and the
//     scraper's delta conversion has real work; running past the last step
//     starts the sequence again, which looks like a restarted process.
//
// Endpoints, as net/http/pprof serves them:
//   - /debug/pprof/profile?seconds=S: waits S seconds (30 when S is absent
//     or not a positive number, as in Go), then returns the next CPU file.
//     Go profiles one CPU window at a time per process: a request that
//     arrives while the same target is still inside a window gets Go's 500
//     "cpu profiling already in use", or, with -cpu-overlap=serve, is
//     served anyway; either way the log marks it.
//   - /debug/pprof/heap, allocs, mutex, block, goroutine: the next file at
//     once. ?seconds= (Go's delta mode) and ?debug=N (text) are refused
//     with 400: they are not recorded. Any other path is 404.
//
// Log. Every request is logged when it arrives, so the log holds the CPU
// requests still waiting out their window too: target port, type (or
// "other"), arrival and completion in microseconds since the Unix epoch
// (wall clock), status, the overlap mark, for other paths only the
// request URI, and the User-Agent (both cut to 200 bytes, commas and
// non-ASCII replaced by _).
// Status 0 means the client went away before the response was written;
// -1, with completion 0, that the request was still being served when the
// log was written. On SIGTERM or SIGINT replay writes the log to -log as
// CSV, sorted by port, type and arrival, then exits 0. At most -max-log
// requests are kept; later ones are counted and the count goes to stderr.
// Once every port listens, stdout gets "listening on 127.0.0.1:A-B".
//
// Standard library only, built by tests/gobuild.sh without network.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Profile types, in the order of the log's type column.
const (
	tCPU = iota
	tHeap
	tGoroutine
	tAllocs
	tMutex
	tBlock
	nTypes
	tOther = nTypes
)

var typeNames = [...]string{"cpu", "heap", "goroutine", "allocs", "mutex",
	"block", "other"}

var typePaths = map[string]int{
	"/debug/pprof/profile":   tCPU,
	"/debug/pprof/heap":      tHeap,
	"/debug/pprof/goroutine": tGoroutine,
	"/debug/pprof/allocs":    tAllocs,
	"/debug/pprof/mutex":     tMutex,
	"/debug/pprof/block":     tBlock,
}

func cumulative(t int) bool { return t == tAllocs || t == tMutex || t == tBlock }

// Limits on what replay accepts.
const (
	maxTargets   = 20000
	maxFileBytes = 64 << 20 // one recorded profile
	maxSeconds   = 3600     // ?seconds= of one CPU request
	fdsPerTarget = 8        // listener + connections a scraper may open
	maxURI       = 200      // bytes of an unknown request URI logged
)

// library holds the recorded profiles: for rotated types one sequence of
// all files, for cumulative types one sequence per recorded process.
type library struct {
	seqs [nTypes][][][]byte
}

// file returns what target i's k-th request of type t is served.
func (lib *library) file(t, i, k int) []byte {
	seqs := lib.seqs[t]
	if cumulative(t) {
		seq := seqs[i%len(seqs)]
		return seq[k%len(seq)]
	}
	return seqs[0][(i+k)%len(seqs[0])]
}

// loadLibrary reads dir; every type must have at least one file.
func loadLibrary(dir string) (*library, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.pb.gz"))
	if err != nil {
		return nil, err
	}
	type entry struct {
		src  string
		step int
		data []byte
	}
	var found [nTypes][]entry
	for _, name := range names {
		base := strings.TrimSuffix(filepath.Base(name), ".pb.gz")
		parts := strings.Split(base, "-")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s: name is not TYPE-S-N.pb.gz", name)
		}
		t := -1
		for j := 0; j < nTypes; j++ {
			if typeNames[j] == parts[0] {
				t = j
			}
		}
		if t < 0 {
			return nil, fmt.Errorf("%s: unknown profile type %q", name,
				parts[0])
		}
		step, err := strconv.Atoi(parts[2])
		if err != nil || step < 0 {
			return nil, fmt.Errorf("%s: N %q is not a number", name,
				parts[2])
		}
		fi, err := os.Stat(name)
		if err != nil {
			return nil, err
		}
		if fi.Size() > maxFileBytes {
			return nil, fmt.Errorf("%s: %d bytes, more than %d", name,
				fi.Size(), maxFileBytes)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
			return nil, fmt.Errorf("%s: not gzipped", name)
		}
		found[t] = append(found[t], entry{parts[1], step, data})
	}
	lib := &library{}
	for t := 0; t < nTypes; t++ {
		es := found[t]
		if len(es) == 0 {
			return nil, fmt.Errorf("%s: no %s-*-*.pb.gz files", dir,
				typeNames[t])
		}
		sort.Slice(es, func(a, b int) bool {
			if es[a].src != es[b].src {
				return es[a].src < es[b].src
			}
			return es[a].step < es[b].step
		})
		for j, e := range es {
			if j == 0 || (cumulative(t) && e.src != es[j-1].src) {
				lib.seqs[t] = append(lib.seqs[t], nil)
			}
			last := len(lib.seqs[t]) - 1
			lib.seqs[t][last] = append(lib.seqs[t][last], e.data)
		}
	}
	return lib, nil
}

// record is one logged request.
type record struct {
	port     int
	typ      int
	arrival  int64  // µs since the Unix epoch
	done     int64  // likewise; 0 while being served
	status   int    // HTTP status; 0 client gone; -1 being served
	overlaps bool   // a CPU request inside an open window
	other    string // for type other: the request URI, cut to maxURI
	agent    string // User-Agent, cut to maxURI
}

// target is one simulated Go program.
type target struct {
	mu      sync.Mutex
	count   [nTypes]int // requests of each type so far
	cpuOpen int         // CPU windows open (more than 1 only with serve)
}

type server struct {
	lib        *library
	base       int
	targets    []target
	serveOverl bool

	logMu   sync.Mutex
	log     []record
	maxLog  int
	dropped int
}

func micros(t time.Time) int64 { return t.UnixNano() / 1000 }

// csvSafe cuts s to maxURI bytes and replaces commas and non-ASCII.
func csvSafe(s string) string {
	if len(s) > maxURI {
		s = s[:maxURI]
	}
	return strings.Map(func(c rune) rune {
		if c == ',' || c < ' ' || c > '~' {
			return '_'
		}
		return c
	}, s)
}

// arrive logs a request for uri from agent arriving now and returns its
// index in the log, or -1 when the log is full. The URI is kept for type
// other only.
func (s *server) arrive(port, typ int, uri, agent string) int {
	r := record{port: port, typ: typ, arrival: micros(time.Now()),
		status: -1, agent: csvSafe(agent)}
	if typ == tOther {
		r.other = csvSafe(uri)
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if len(s.log) >= s.maxLog {
		s.dropped++
		return -1
	}
	s.log = append(s.log, r)
	return len(s.log) - 1
}

// finish completes log entry idx (nothing when idx is -1).
func (s *server) finish(idx, status int, overlaps bool) {
	done := micros(time.Now())
	if idx < 0 {
		return
	}
	s.logMu.Lock()
	r := &s.log[idx]
	r.done, r.status, r.overlaps = done, status, overlaps
	s.logMu.Unlock()
}

// next returns target i's next file of type t and counts the request.
func (s *server) next(i, t int) []byte {
	tg := &s.targets[i]
	tg.mu.Lock()
	k := tg.count[t]
	tg.count[t]++
	tg.mu.Unlock()
	return s.lib.file(t, i, k)
}

func writeProfile(w http.ResponseWriter, data []byte) int {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="profile"`)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	if _, err := w.Write(data); err != nil {
		return 0
	}
	return http.StatusOK
}

func writeError(w http.ResponseWriter, status int, msg string) int {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Go-Pprof", "1")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
	return status
}

// cpu serves one CPU request of target i and returns its status and
// whether it overlapped an open window.
func (s *server) cpu(w http.ResponseWriter, r *http.Request, i int) (int,
	bool) {
	sec, err := strconv.ParseInt(r.FormValue("seconds"), 10, 64)
	if sec <= 0 || err != nil {
		sec = 30
	}
	if sec > maxSeconds {
		return writeError(w, http.StatusBadRequest,
			fmt.Sprintf("replay: seconds=%d, more than %d", sec,
				maxSeconds)), false
	}
	tg := &s.targets[i]
	tg.mu.Lock()
	overlaps := tg.cpuOpen > 0
	if overlaps && !s.serveOverl {
		tg.mu.Unlock()
		return writeError(w, http.StatusInternalServerError,
			"Could not enable CPU profiling: "+
				"cpu profiling already in use"), true
	}
	tg.cpuOpen++
	tg.mu.Unlock()
	timer := time.NewTimer(time.Duration(sec) * time.Second)
	cancelled := false
	select {
	case <-timer.C:
	case <-r.Context().Done():
		timer.Stop()
		cancelled = true
	}
	tg.mu.Lock()
	tg.cpuOpen--
	tg.mu.Unlock()
	if cancelled {
		return 0, overlaps
	}
	return writeProfile(w, s.next(i, tCPU)), overlaps
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	port := 0
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		port = a.Port
	}
	i := port - s.base
	t, known := typePaths[r.URL.Path]
	if i < 0 || i >= len(s.targets) || !known {
		t = tOther
	}
	idx := s.arrive(port, t, r.RequestURI, r.UserAgent())
	status, overlaps := 0, false
	switch {
	case t == tOther:
		status = writeError(w, http.StatusNotFound, "replay: no such profile")
	case t == tCPU:
		status, overlaps = s.cpu(w, r, i)
	case r.FormValue("seconds") != "":
		status = writeError(w, http.StatusBadRequest,
			"replay: ?seconds= on "+r.URL.Path+" is not recorded")
	case r.FormValue("debug") != "" && r.FormValue("debug") != "0":
		status = writeError(w, http.StatusBadRequest,
			"replay: ?debug= text output is not recorded")
	default:
		status = writeProfile(w, s.next(i, t))
	}
	s.finish(idx, status, overlaps)
}

// writeLog writes the log to path as CSV, sorted by port, type, arrival.
func (s *server) writeLog(path string) error {
	s.logMu.Lock()
	recs := append([]record(nil), s.log...)
	dropped := s.dropped
	s.logMu.Unlock()
	sort.Slice(recs, func(a, b int) bool {
		x, y := &recs[a], &recs[b]
		if x.port != y.port {
			return x.port < y.port
		}
		if x.typ != y.typ {
			return x.typ < y.typ
		}
		return x.arrival < y.arrival
	})
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	fmt.Fprintln(bw, "port,type,arrival_us,done_us,status,overlap,uri,agent")
	for _, r := range recs {
		ov := 0
		if r.overlaps {
			ov = 1
		}
		fmt.Fprintf(bw, "%d,%s,%d,%d,%d,%d,%s,%s\n", r.port,
			typeNames[r.typ], r.arrival, r.done, r.status, ov, r.other,
			r.agent)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if dropped > 0 {
		log.Printf("%d requests past -max-log were not logged", dropped)
	}
	return os.Rename(path+".tmp", path)
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("replay: ")
	base := flag.Int("base", 20000, "first port")
	n := flag.Int("targets", 1000, "number of targets (ports)")
	dir := flag.String("profiles", "", "directory of TYPE-S-N.pb.gz files")
	logPath := flag.String("log", "", "CSV request log, written on SIGTERM")
	overlap := flag.String("cpu-overlap", "error",
		"a CPU request inside an open window: error (as Go) or serve")
	maxLog := flag.Int("max-log", 10000000, "requests kept in the log")
	flag.Parse()
	if *dir == "" || *logPath == "" || flag.NArg() != 0 {
		log.Fatal("usage: replay -profiles DIR -log FILE [-base PORT] " +
			"[-targets N] [-cpu-overlap error|serve] [-max-log N]")
	}
	if *n < 1 || *n > maxTargets {
		log.Fatalf("-targets %d: want 1 to %d", *n, maxTargets)
	}
	if *base < 1 || *base+*n-1 > 65535 {
		log.Fatalf("-base %d: ports %d to %d are not all valid", *base,
			*base, *base+*n-1)
	}
	if *overlap != "error" && *overlap != "serve" {
		log.Fatalf("-cpu-overlap %q: want error or serve", *overlap)
	}
	if *maxLog < 0 {
		log.Fatalf("-max-log %d: want 0 or more", *maxLog)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Fatalf("getrlimit: %v", err)
	}
	if need := uint64(*n*fdsPerTarget + 64); lim.Cur < need {
		log.Fatalf("open file limit %d, %d targets need %d (ulimit -n)",
			lim.Cur, *n, need)
	}
	lib, err := loadLibrary(*dir)
	if err != nil {
		log.Fatal(err)
	}
	s := &server{lib: lib, base: *base, targets: make([]target, *n),
		serveOverl: *overlap == "serve", maxLog: *maxLog}
	hs := &http.Server{Handler: s, IdleTimeout: 5 * time.Minute}
	lns := make([]net.Listener, *n)
	for i := range lns {
		addr := fmt.Sprintf("127.0.0.1:%d", *base+i)
		if lns[i], err = net.Listen("tcp", addr); err != nil {
			log.Fatalf("listen %s: %v", addr, err)
		}
	}
	for _, ln := range lns {
		go func(ln net.Listener) {
			if err := hs.Serve(ln); err != http.ErrServerClosed {
				log.Fatalf("serve %s: %v", ln.Addr(), err)
			}
		}(ln)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	fmt.Printf("listening on 127.0.0.1:%d-%d\n", *base, *base+*n-1)
	os.Stdout.Sync()
	<-sig
	if err := s.writeLog(*logPath); err != nil {
		log.Fatalf("writing %s: %v", *logPath, err)
	}
}
