package store

import "sync"

// seenEventsPerGeneration bounds the memory of seenEvents: at most twice
// this many ids, about 100 bytes each, so under 4 MB of a 128 MiB
// instance. 100ms redelivers within about 15 s (after 1, 3 and 10 s), so a
// generation this size outlives every retry up to ~1,000 events a second.
const seenEventsPerGeneration = 16384

// seenEvents remembers the ids of events this instance knows are stored
// (it committed them, or Firestore said they exist), each with the
// appointment its room belongs to (events of rooms with no known
// appointment are not remembered: see Store.remember), so that a
// redelivery is answered
// without a round trip to Firestore: 100ms delivers most events more than
// once, and an id in hmsEvents stays there (until its TTL, months later).
// It forgets the oldest ids in bulk, two generations of maps, instead of
// keeping an LRU list: forgetting one only costs a Firestore round trip,
// which then answers "duplicate" as before.
type seenEvents struct {
	mu        sync.Mutex
	cur, prev map[string]string
}

// appointment reports whether id is known to be stored, and the
// appointment id it was stored with ("" for a room no appointment owns).
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cur) >= seenEventsPerGeneration {
		s.prev, s.cur = s.cur, nil
	}
	if s.cur == nil {
		s.cur = make(map[string]string, 64)
	}
	s.cur[id] = appt
}
