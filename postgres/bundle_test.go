package postgres_test

import (
	"archive/tar"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/strata-dev/strata"
)

// bigBundle is a bundle of one artifact of size pseudo-random bytes, made as it is read.
func bigBundle(size int64) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: "artifacts/big.bin", Mode: 0o644, Size: size, Typeflag: tar.TypeReg})
		if err == nil {
			_, err = io.CopyN(tw, rand.NewChaCha8([32]byte{42}), size)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// peakHeap samples the heap in use while fn runs and returns the most it saw above where
// it started.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			if m.HeapInuse > base && m.HeapInuse-base > peak {
				peak = m.HeapInuse - base
			}
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	fn()
	close(done)
	wg.Wait()
	return peak
}

// TestALargeBundleGoesThroughInBoundedMemory puts a bundle far larger than a chunk into the
// store and reads it back, and holds the heap the two use below the bundle's size: it is
// streamed chunk by chunk both ways, never held whole (about 8 and 15 MiB here, where
// 128 MiB chunks made it 320 and 192 MiB for a 96 MiB bundle). Not parallel: the heap is
// the process's.
func TestALargeBundleGoesThroughInBoundedMemory(t *testing.T) {
	const size = 48 << 20
	const bound = 32 << 20
	db := open(t, func() string { _, u := schema(t); return u }())
	a, r, err := strata.ScanBundle(bigBundle(size), nil)
	if err != nil {
		t.Fatal(err)
	}
	digest := strata.BundleDigest(a, r)

	var putErr error
	peak := peakHeap(func() { _, putErr = db.PutBundle(t.Context(), digest, bigBundle(size)) })
	t.Logf("put: %d KiB of heap at most", peak>>10)
	if peak > bound {
		t.Errorf("putting a %d MiB bundle used %d MiB of heap, want at most %d MiB", size>>20, peak>>20, bound>>20)
	}
	if putErr != nil {
		t.Fatal(putErr)
	}
	var got string
	var readErr error
	peak = peakHeap(func() {
		rc, err := db.OpenBundle(t.Context(), digest)
		if err != nil {
			readErr = err
			return
		}
		defer rc.Close()
		ga, gr, err := strata.ScanBundle(rc, nil)
		got, readErr = strata.BundleDigest(ga, gr), err
	})
	if readErr != nil {
		t.Fatal(readErr)
	}
	t.Logf("read: %d KiB of heap at most", peak>>10)
	if peak > bound {
		t.Errorf("reading a %d MiB bundle back used %d MiB of heap, want at most %d MiB", size>>20, peak>>20, bound>>20)
	}
	if got != digest {
		t.Errorf("the bundle read back has digest %s, want %s", got, digest)
	}
}

// TestAMigrationThatLandedAfterAHigherOneIsApplied opens a store that a binary without the
// bundles' migration (0009) had taken to a later schema, as when branches land out of
// order: the next open applies 0009 all the same, and bundles work.
func TestAMigrationThatLandedAfterAHigherOneIsApplied(t *testing.T) {
	name, u := schema(t)
	db := open(t, u)
	db.Close()
	c := admin(t)
	for _, q := range []string{
		`DROP TABLE ` + name + `.bundles`,
		`DROP TABLE ` + name + `.bundle_chunks`,
		`DROP TABLE ` + name + `.bundle_uploads`,
		`DELETE FROM ` + name + `.schema_version WHERE version = 9`,
	} {
		if _, err := c.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	again := open(t, u)
	list, err := again.Bundles(t.Context())
	if err != nil || len(list) != 0 {
		t.Fatalf("after the reopen, Bundles = %v, %v; want none and no error", list, err)
	}
	if v, err := again.StoredSchema(t.Context()); err != nil || v != strata.SchemaVersion {
		t.Errorf("stored schema %d (%v), want %d", v, err, strata.SchemaVersion)
	}
}
