// Command tilecheck checks a C2SP tlog-tiles log from its served files alone, with Go's own
// transparency-log code (golang.org/x/mod/sumdb/tlog), independent of Hallmark's: it verifies the
// checkpoint's signature (ECDSA P-256, or Ed25519 as C2SP signed-note defines it), rebuilds inclusion proofs for entries read from the entry bundles
// and a consistency proof from an older checkpoint, all from hash tiles, and checks them against
// the checkpoint's root.
//
// Usage: tilecheck -key log.pem (-url http://host:port | -dir DIR) [-old OLD_CHECKPOINT_FILE]
//
// It prints one JSON line with what it checked and exits non-zero on any failure.
package main

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

type source struct {
	url string
	dir string
}

func (s source) get(path string) ([]byte, error) {
	if s.dir != "" {
		return os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(path)))
	}
	resp, err := http.Get(strings.TrimRight(s.url, "/") + "/" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return body, nil
}

// c2spPath turns sumdb's tile path (tile/8/L/N[.p/W]) into C2SP's (tile/L/N[.p/W]).
func c2spPath(t tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
}

type tileReader struct{ src source }

func (r tileReader) Height() int { return 8 }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := r.src.get(c2spPath(t))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// verifyCheckpoint checks a signed note's signature by key (signature line named origin) and
// parses the checkpoint. ECDSA: key ID the first four bytes of SHA-256 of the DER SPKI, DER
// signature over SHA-256 of the text. Ed25519 (C2SP signed-note): key ID the first four bytes of
// SHA-256(origin || "\n" || 0x01 || key), 64-byte signature over the text.
func verifyCheckpoint(note []byte, key crypto.PublicKey, spki []byte) (checkpoint, error) {
	var cp checkpoint
	text, sigs, ok := bytes.Cut(note, []byte("\n\n"))
	if !ok {
		return cp, errors.New("checkpoint: no blank line before the signatures")
	}
	text = append(text, '\n')
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if len(lines) < 3 {
		return cp, errors.New("checkpoint: fewer than three lines")
	}
	cp.origin = lines[0]
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return cp, fmt.Errorf("checkpoint: bad size %q", lines[1])
	}
	cp.size = size
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return cp, fmt.Errorf("checkpoint: bad root %q", lines[2])
	}
	copy(cp.root[:], root)
	id := sha256.Sum256(spki)
	if ed, ok := key.(ed25519.PublicKey); ok {
		id = sha256.Sum256(append(append([]byte(cp.origin+"\n"), 0x01), ed...))
	}
	digest := sha256.Sum256(text)
	sc := bufio.NewScanner(bytes.NewReader(sigs))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "\u2014 ")
		if !ok {
			return cp, fmt.Errorf("checkpoint: bad signature line %q", line)
		}
		name, b64, ok := strings.Cut(rest, " ")
		if !ok || name != cp.origin {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) < 5 || !bytes.Equal(raw[:4], id[:4]) {
			continue
		}
		var good bool
		switch k := key.(type) {
		case *ecdsa.PublicKey:
			good = ecdsa.VerifyASN1(k, digest[:], raw[4:])
		case ed25519.PublicKey:
			good = ed25519.Verify(k, text, raw[4:])
		}
		if good {
			return cp, nil
		}
		return cp, errors.New("checkpoint: the signature does not verify")
	}
	return cp, fmt.Errorf("checkpoint: no signature by the key under the name %q", cp.origin)
}

// entries reads entry bundle n (all of it, or the partial one the tree has) into records.
func entries(src source, n, size int64) ([][]byte, error) {
	width := size - n*256
	if width > 256 {
		width = 256
	}
	path := "tile/entries/" + strings.TrimPrefix(tlog.Tile{H: 8, L: 0, N: n, W: 256}.Path(), "tile/8/0/")
	if width < 256 {
		path += fmt.Sprintf(".p/%d", width)
	}
	data, err := src.get(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, errors.New("entry bundle: truncated length")
		}
		l := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+l {
			return nil, errors.New("entry bundle: truncated entry")
		}
		out = append(out, data[2:2+l])
		data = data[2+l:]
	}
	if int64(len(out)) != width {
		return nil, fmt.Errorf("entry bundle %s: %d entries, want %d", path, len(out), width)
	}
	return out, nil
}

func run() error {
	keyFile := flag.String("key", "", "the log's public key (PEM)")
	url := flag.String("url", "", "the log's base URL")
	dir := flag.String("dir", "", "a directory holding the log's checkpoint and tiles")
	old := flag.String("old", "", "an earlier checkpoint to prove consistency from")
	flag.Parse()
	if *keyFile == "" || (*url == "") == (*dir == "") {
		return errors.New("need -key and one of -url, -dir")
	}
	src := source{url: *url, dir: *dir}
	pemBytes, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return errors.New("-key: no PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return err
	}
	var key crypto.PublicKey
	switch k := pub.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey:
		key = k
	default:
		return errors.New("-key: not an ECDSA or Ed25519 key")
	}
	note, err := src.get("checkpoint")
	if err != nil {
		return err
	}
	cp, err := verifyCheckpoint(note, key, block.Bytes)
	if err != nil {
		return err
	}
	tree := tlog.Tree{N: cp.size, Hash: cp.root}
	hr := tlog.TileHashReader(tree, tileReader{src})
	// The tiles' tree hash is the checkpoint's (TileHashReader also checks every tile it reads
	// against the tree).
	th, err := tlog.TreeHash(cp.size, hr)
	if err != nil {
		return fmt.Errorf("tree hash from tiles: %w", err)
	}
	if th != cp.root {
		return fmt.Errorf("tiles give root %v, the checkpoint %v", th, cp.root)
	}
	checked := 0
	for n := int64(0); n*256 < cp.size; n++ {
		recs, err := entries(src, n, cp.size)
		if err != nil {
			return err
		}
		for i, rec := range recs {
			index := n*256 + int64(i)
			proof, err := tlog.ProveRecord(cp.size, index, hr)
			if err != nil {
				return fmt.Errorf("proving entry %d: %w", index, err)
			}
			if err := tlog.CheckRecord(proof, cp.size, cp.root, index, tlog.RecordHash(rec)); err != nil {
				return fmt.Errorf("entry %d: %w", index, err)
			}
			checked++
		}
	}
	result := map[string]any{"origin": cp.origin, "size": cp.size, "entries_checked": checked}
	if *old != "" {
		oldNote, err := os.ReadFile(*old)
		if err != nil {
			return err
		}
		ocp, err := verifyCheckpoint(oldNote, key, block.Bytes)
		if err != nil {
			return fmt.Errorf("old %w", err)
		}
		if ocp.origin != cp.origin {
			return fmt.Errorf("old checkpoint is of %q, not %q", ocp.origin, cp.origin)
		}
		proof, err := tlog.ProveTree(cp.size, ocp.size, hr)
		if err != nil {
			return fmt.Errorf("proving consistency: %w", err)
		}
		if err := tlog.CheckTree(proof, cp.size, cp.root, ocp.size, ocp.root); err != nil {
			return fmt.Errorf("consistency from %d to %d: %w", ocp.size, cp.size, err)
		}
		result["consistent_from"] = ocp.size
	}
	return json.NewEncoder(os.Stdout).Encode(result)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tilecheck:", err)
		os.Exit(1)
	}
}
