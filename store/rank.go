package store

import (
	"slices"

	"cloud.google.com/go/firestore"
)

// Status by rank, without reading (streams, recordings, transcripts): an
// event of rank r writes its status only in a commit that creates the
// bookkeeping document hmsRanks/{bookID(key..., r)}, standing for "an event
// of rank r or above has been applied", and sets the documents below r.
// The top rank sets them all and always writes its status. So a status is
// written only when nothing of its rank or above came before, and every
// later higher-ranked event overwrites it; when document r exists, the
// event is applied again without its status (orElse). Fields that go with
// the status (a failure's createdAt) are written the same way.

// ranked is the plan of an event of the given rank (1 … top) for the
// ranked thing named by key: always are merges made in every case,
// withStatus the merges made only while nothing of this rank or above was
// applied, withoutStatus those made otherwise.
func (s *Store) ranked(key []string, rank, top int, always, withStatus, withoutStatus []write) plan {
	var below []write
	for r := 1; r < rank; r++ {
		below = append(below, write{s.rankRef(key, r), expiry()})
	}
	base := append(below, always...)
	full := plan{merges: append(slices.Clip(base), withStatus...)}
	if rank < top {
		full.creates = []write{{s.rankRef(key, rank), expiry()}}
		full.orElse = &plan{merges: append(slices.Clip(base), withoutStatus...)}
	}
	return full
}

func (s *Store) rankRef(key []string, rank int) *firestore.DocumentRef {
	return s.fs.Collection(colRanks).Doc(bookID(append(slices.Clip(key), string(rune('0'+rank)))...))
}

// and returns p with the merges of q made too, in every branch: q must be
// a plan of blind merges only (no creates, reads or alternatives).
func (p plan) and(q plan) plan {
	p.merges = append(slices.Clip(p.merges), q.merges...)
	if p.orElse != nil {
		alt := p.orElse.and(q)
		p.orElse = &alt
	}
	return p
}
