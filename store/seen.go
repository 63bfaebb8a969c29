package store

import "sync"

// seenEventsBytesPerGeneration bounds the memory of seenEvents by the bytes
// of what it keeps, not the number of ids: an event id may be 256 bytes
// (docs/webhook.md) and its appointment id up to 1,500. Two generations of this
// many bytes of keys and values, plus Go's map overhead (under 100 bytes an
// entry), stay near 4 MiB of a 128 MiB instance: about 16,000 typical
// events (a 36-byte id and a 20-byte appointment), which outlives every
// 100ms retry (after 1, 3 and 10 s) up to ~1,000 events a second.
const seenEventsBytesPerGeneration = 1 << 20

// seenEntryOverhead is what the map spends on an entry besides the bytes
// of its strings (two string headers, a hash slot), so that many tiny ids
// are bounded too.
const seenEntryOverhead = 64

// seenEvents remembers the ids of events this instance knows are stored
// (it committed them, or Firestore said they exist), each with the
// appointment its room belongs to (events of rooms with no known
// appointment are not remembered: see Store.remember), so that a
// redelivery is answered without a round trip to Firestore: 100ms delivers
// most events more than once, and an id in hmsEvents stays there (until its
// TTL, months later). It forgets the oldest ids in bulk, two generations of
// maps, instead of keeping an LRU list: forgetting one only costs a
// Firestore round trip, which then answers "duplicate" as before.
type seenEvents struct {
	mu        sync.Mutex
	cur, prev map[string]string
	curBytes  int
}

// appointment reports whether id is known to be stored, and the
// appointment id it was stored with.
func (s *seenEvents) appointment(id string) (appt string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if appt, ok = s.cur[id]; !ok {
		appt, ok = s.prev[id]
	}
	return appt, ok
}

// add records that id is stored, with the appointment of its room.
func (s *seenEvents) add(id, appt string) {
	size := len(id) + len(appt) + seenEntryOverhead
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cur[id]; ok {
		return
	}
	if s.curBytes+size > seenEventsBytesPerGeneration {
		s.prev, s.cur, s.curBytes = s.cur, nil, 0
	}
	if s.cur == nil {
		s.cur = make(map[string]string, 64)
	}
	s.cur[id] = appt
	s.curBytes += size
}
