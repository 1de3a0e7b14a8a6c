// Command goapp is Kiln's end-to-end test peer: a Go program with a known
// profile shape that serves net/http/pprof on loopback.
//
// Workload (always running, modest CPU):
//   - CPU: one goroutine alternates main.hotA and main.hotB, pure integer
//     work with hotA doing 3x the iterations of hotB, so the cpu profile
//     shows hotA at about 3x hotB (flat).
//   - Allocations: main.allocBig allocates 10x the bytes of main.allocSmall
//     per round; a ring of recent buffers is kept live so inuse_* is non-empty.
//   - Mutex: several goroutines contend on one sync.Mutex held briefly inside
//     main.lockHolder, so the mutex profile is non-empty.
//   - Block: main.blockRecv waits on a channel fed by a ticker, so the block
//     profile is non-empty.
//
// About 30% of one core in all. Every mutex contention and blocking event
// is recorded (SetMutexProfileFraction(1), SetBlockProfileRate(1)), and one
// allocation per 4 KiB (MemProfileRate = 4096), so small profiles already
// show the shape.
//
// Flags: -addr (default 127.0.0.1:0). The first stdout line is
// "listening on HOST:PORT" with the actual address, so callers can ask for
// port 0. Standard library only; built with Debian's golang-go (go 1.19).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sync"
	"time"
)

// sink keeps results observable so the compiler keeps the work.
var sink uint64

//go:noinline
func spin(n int) uint64 {
	x := uint64(n) | 1
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

//go:noinline
func hotA() {
	x := uint64(1)
	for i := 0; i < 3*hotUnit; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	sink += x
}

//go:noinline
func hotB() {
	x := uint64(1)
	for i := 0; i < hotUnit; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	sink += x
}

// hotUnit iterations take roughly 10 ms; chunks much longer than the kernel
// tick keep the sampled split close to the true 3:1.
const hotUnit = 6000000

// cpuWorker runs hotA and hotB with a duty cycle of about 25% of one core.
func cpuWorker() {
	for {
		start := time.Now()
		hotA()
		hotB()
		busy := time.Since(start)
		time.Sleep(busy * 3)
	}
}

var (
	liveMu sync.Mutex
	live   [64][]byte
	liveI  int
)

//go:noinline
func allocSmall() []byte { return make([]byte, 4096) }

//go:noinline
func allocBig() []byte { return make([]byte, 40960) }

func keep(b []byte) {
	liveMu.Lock()
	live[liveI%len(live)] = b
	liveI++
	liveMu.Unlock()
}

func allocWorker() {
	for {
		for i := 0; i < 4; i++ {
			s := allocSmall()
			b := allocBig()
			s[0], b[0] = 1, 1
			keep(s)
			keep(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var contended sync.Mutex

//go:noinline
func lockHolder(id int) {
	contended.Lock()
	sink += spin(2000 + id)
	time.Sleep(200 * time.Microsecond)
	contended.Unlock()
}

func mutexWorker(id int) {
	for {
		lockHolder(id)
		time.Sleep(500 * time.Microsecond)
	}
}

//go:noinline
func blockRecv(ch <-chan int) int { return <-ch }

func blockWorker() {
	ch := make(chan int)
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		for range t.C {
			ch <- 1
		}
	}()
	for {
		sink += uint64(blockRecv(ch))
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	runtime.MemProfileRate = 4096

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen %s: %v", *addr, err)
	}
	fmt.Printf("listening on %s\n", ln.Addr().String())
	os.Stdout.Sync()

	go cpuWorker()
	go allocWorker()
	for i := 0; i < 4; i++ {
		go mutexWorker(i)
	}
	go blockWorker()

	log.Fatal(http.Serve(ln, nil))
}
