package hms

import "testing"

func BenchmarkParseEvent(b *testing.B) {
	bench := func(name string, body []byte) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := ParseEvent(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, typ := range allEventTypes {
		bench(string(typ), readFixture(b, string(typ)+".json"))
	}
	for _, f := range curFixtures() {
		bench("current/"+f.file, readCurrent(b, f.file))
	}
}
