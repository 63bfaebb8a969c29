package hms

import "testing"

func BenchmarkParseEvent(b *testing.B) {
	for _, typ := range allEventTypes {
		body := readFixture(b, string(typ)+".json")
		b.Run(string(typ), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := ParseEvent(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
