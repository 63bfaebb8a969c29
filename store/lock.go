package store

import (
	"context"
	"hash/fnv"
)

// lock serialises this instance's read-then-write steps on one key (the
// bookkeeping document commitRead reads, or a call for RecordRoom), giving
// up when ctx ends: a hung Firestore must not hold other requests past
// their deadline. Two of them on one document would make one fail its
// condition and read again (or, for transactions, wait on each other's
// locks until the server aborts one, seconds on the emulator); taking
// turns here costs one commit.
func (s *Store) lock(ctx context.Context, key string) (unlock func(), err error) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	sem := s.txLocks[h.Sum32()%uint32(len(s.txLocks))]
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
