// Command rttbudget measures what each kind of request costs in network
// round trips once Firestore and Auth are a round-trip time (-rtt) away, as
// they are in production, and prints a markdown table of the ratios.
//
// It puts an internal/delayproxy proxy in front of the Firestore emulator
// (FIRESTORE_EMULATOR_HOST) and one in front of the Auth emulator
// (FIREBASE_AUTH_EMULATOR_HOST, or one internal/emulatortest starts on
// free ports), serves internal/fake100ms behind a third (-hms-rtt, 0 by
// default), and starts two instances of cmd/local/server (-server, a built
// binary) that reach all three through the proxies. Then, one request at a
// time, for -n appointments (after -warmup unrecorded ones), it calls
// hmsToken (first call, then warm) and delivers a session's webhook events
// of each family, then redeliveries to the same and to the other instance.
//
// For each request it reports the p50 latency as a ratio to the RTT, the
// round trips it made in sequence (counted by the proxies: the longest
// chain of Firestore and Auth calls each started after the one before was
// answered) and the calls of that chain, beside the floor: one RTT per
// dependency that must be asked in sequence. scripts/rttbudget starts the
// emulators and runs it:
//
//	scripts/rttbudget -rtt 20ms
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"time"

	"github.com/telemed/videocalls/internal/rig"
)

type options struct {
	rtt, hmsRTT time.Duration
	n, warmup   int
	server      string
	keepLogs    bool
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("rttbudget: ")
	var o options
	flag.DurationVar(&o.rtt, "rtt", 20*time.Millisecond, "round-trip time added to every Firestore and Auth connection")
	flag.DurationVar(&o.hmsRTT, "hms-rtt", 0, "round-trip time added to the fake 100ms API")
	flag.IntVar(&o.n, "n", 15, "appointments measured (samples per row; hmsToken warm has two per appointment)")
	flag.IntVar(&o.warmup, "warmup", 3, "appointments run first and not recorded (the emulator's JIT, connections)")
	flag.StringVar(&o.server, "server", "", "cmd/local/server binary (go build -o ... ./cmd/local/server)")
	flag.BoolVar(&o.keepLogs, "keep", false, "keep the servers' logs and print where")
	flag.Parse()
	if o.server == "" || o.rtt <= 0 || o.hmsRTT < 0 || o.n < 1 || o.warmup < 0 {
		log.Print("need -server, -rtt > 0, -hms-rtt >= 0, -n >= 1, -warmup >= 0")
		os.Exit(2)
	}
	rig.Main(func(ctx context.Context) error { return run(ctx, o) })
}

// setupErr is a failure to start what the measurement needs (exit 2).
func setupErr(format string, args ...any) error { return rig.SetupErrorf(format, args...) }
