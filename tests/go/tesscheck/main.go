// tesscheck: an independent tlog-tiles log for Hallmark's witness interop test
// (crates/cli/tests/witness.rs). It appends entries to a Tessera (transparency-dev/tessera
// v1.0.4) POSIX log whose checkpoints must be cosigned by one witness, and exits 0 only if
// Tessera published a checkpoint carrying a cosignature that Tessera's own witness client, and
// again transparency-dev/formats, verified; the published checkpoint goes to stdout.
//
//	tesscheck -keygen <origin>   prints a new Ed25519 note signer key and its vkey (two lines)
//	tesscheck -storage_dir D -log_key F -witness_url U -witness_vkey V [-entries N] [-timeout T]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

var (
	dir      = flag.String("storage_dir", "", "log directory")
	skeyFile = flag.String("log_key", "", "file with the log's note signer key (PRIVATE+KEY+..., Ed25519)")
	wURL     = flag.String("witness_url", "", "witness submission prefix, e.g. http://127.0.0.1:7380")
	wVkey    = flag.String("witness_vkey", "", "witness cosignature vkey (type 0x04, or 0x01)")
	n        = flag.Int("entries", 3, "entries to add")
	timeout  = flag.Duration("timeout", 20*time.Second, "overall deadline")
	keygen   = flag.String("keygen", "", "print a new Ed25519 note key pair for this origin and exit")
)

func fail(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...); os.Exit(1) }

func main() {
	flag.Parse()
	if *keygen != "" {
		skey, vkey, err := note.GenerateKey(nil, *keygen)
		if err != nil {
			fail("keygen: %v", err)
		}
		fmt.Println(skey)
		fmt.Println(vkey)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	skey, err := os.ReadFile(*skeyFile)
	if err != nil {
		fail("read key: %v", err)
	}
	signer, err := note.NewSigner(string(skey))
	if err != nil {
		fail("log key: %v", err)
	}
	policy := fmt.Sprintf("witness w %s %s\nquorum w\n", *wVkey, *wURL)
	wg, err := tessera.NewWitnessGroupFromPolicy([]byte(policy))
	if err != nil {
		fail("policy: %v", err)
	}
	driver, err := posix.New(ctx, posix.Config{Path: *dir})
	if err != nil {
		fail("storage: %v", err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(uint(*n), 100*time.Millisecond).
		WithCheckpointInterval(100*time.Millisecond).
		WithWitnesses(wg, &tessera.WitnessOptions{Timeout: 5 * time.Second, FailOpen: false})
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		fail("appender: %v", err)
	}
	await := tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 100*time.Millisecond)
	var last tessera.IndexFuture
	stamp := time.Now().UnixNano()
	for i := 0; i < *n; i++ {
		last = appender.Add(ctx, tessera.NewEntry([]byte(fmt.Sprintf("entry %d-%d\n", stamp, i))))
	}
	_, cp, err := await.Await(ctx, last)
	if err != nil {
		fail("not published (witness policy unmet?): %v", err)
	}
	_ = shutdown(context.Background())

	// Re-check independently of Tessera's internal path.
	v, err := fnote.NewVerifierForCosignatureV1(*wVkey)
	if err != nil {
		fail("witness vkey: %v", err)
	}
	if _, err := note.Open(cp, note.VerifierList(v)); err != nil {
		fail("published checkpoint lacks a valid cosignature: %v", err)
	}
	if _, err := note.Open(cp, note.VerifierList(mustVerifier(string(skey)))); err != nil {
		fail("published checkpoint lacks the log signature: %v", err)
	}
	os.Stdout.Write(cp)
}

func mustVerifier(skey string) note.Verifier {
	_, v, err := fnote.NewEd25519SignerVerifier(skey)
	if err != nil {
		fail("verifier: %v", err)
	}
	return v
}
