package sessiongen

import (
	"sort"
	"time"
)

// Span is one peer's time in a room, as a test reads it back: From to To,
// the first part (until Admit, or all of it when Admit is zero) in the
// waiting role when Waited.
type Span struct {
	User            string
	From, Admit, To time.Time
	Waited          bool
}

// Figures are a visit's times, as the store's calls/{id}.visit sums them.
type Figures struct{ Doctor, Client, Together, Wait time.Duration }

// VisitFigures recomputes a visit by another method than the store's
// (store/presence.go unions and intersects intervals): every instant at
// which anyone joined, left or was admitted cuts time into segments, and
// each segment counts for whoever was in for all of it, the client out of
// the waiting role. Tests compare the two.
func VisitFigures(spans []Span, doctorUID, clientUID string) Figures {
	var cuts []time.Time
	for _, sp := range spans {
		cuts = append(cuts, sp.From, sp.To)
		if !sp.Admit.IsZero() {
			cuts = append(cuts, sp.Admit)
		}
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i].Before(cuts[j]) })
	var f Figures
	for i := 1; i < len(cuts); i++ {
		a, b := cuts[i-1], cuts[i]
		if !b.After(a) {
			continue
		}
		var dIn, cIn, cWait bool
		for _, sp := range spans {
			if sp.From.After(a) || sp.To.Before(b) {
				continue // not in for the whole segment
			}
			switch {
			case sp.User == doctorUID:
				dIn = true
			case sp.User == clientUID && sp.Waited && (sp.Admit.IsZero() || sp.Admit.After(a)):
				cWait = true
			case sp.User == clientUID:
				cIn = true
			}
		}
		seg := b.Sub(a)
		if dIn {
			f.Doctor += seg
		}
		if cIn {
			f.Client += seg
		}
		if dIn && cIn {
			f.Together += seg
		}
		if cWait && !cIn {
			f.Wait += seg
		}
	}
	return f
}
