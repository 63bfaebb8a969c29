// Package billing counts what Firestore bills for the calls that crossed an
// internal/delayproxy proxy (with KeepBodies on), by reading the gRPC
// messages themselves: the documents each Commit writes or deletes, the
// documents BatchGetDocuments and RunQuery return, and the documents
// written with an expireAt that a TTL policy will delete later.
//
// Firestore's pricing (firebase.google.com/docs/firestore/pricing): a
// document read per document a get or a query returns, and one per query
// that returns none; a document write per document a commit writes
// (however many fields and transforms); a document delete per document
// deleted, TTL deletions included.
package billing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"

	"github.com/telemed/videocalls/internal/delayproxy"
)

// Ops is what one collection was billed.
type Ops struct{ Reads, Writes, Deletes, TTLDeletes int }

func (o *Ops) add(x Ops) {
	o.Reads += x.Reads
	o.Writes += x.Writes
	o.Deletes += x.Deletes
	o.TTLDeletes += x.TTLDeletes
}

// Count is the billed operations of a set of calls.
type Count struct {
	Ops
	// ByCollection is keyed by the collection id a document is in (its
	// last collection: "sessions" for calls/a/sessions/s).
	ByCollection map[string]*Ops
	// ttl are the documents written with an expireAt: each is deleted
	// once by its TTL policy, however often it was written.
	ttl map[string]bool
}

// New is an empty count.
func New() *Count { return &Count{ByCollection: map[string]*Ops{}, ttl: map[string]bool{}} }

func (c *Count) on(doc string, o Ops) {
	c.Ops.add(o)
	col := Collection(doc)
	if c.ByCollection[col] == nil {
		c.ByCollection[col] = &Ops{}
	}
	c.ByCollection[col].add(o)
}

// Collection is the collection id of a document name
// (projects/p/databases/d/documents/calls/a/sessions/s → sessions).
func Collection(doc string) string {
	_, path, ok := strings.Cut(doc, "/documents/")
	if !ok {
		return "?"
	}
	parts := strings.Split(path, "/")
	if len(parts) < 2 {
		return "?"
	}
	return parts[len(parts)-2]
}

// Add counts the Firestore calls among calls (others are ignored).
func (c *Count) Add(calls []delayproxy.Call) error {
	for _, call := range calls {
		method := call.Name[strings.LastIndex(call.Name, "/")+1:]
		if !strings.HasPrefix(call.Name, "/google.firestore.v1.Firestore/") {
			continue
		}
		var err error
		switch method {
		case "Commit":
			err = c.commit(call)
		case "BatchGetDocuments":
			err = c.batchGet(call)
		case "RunQuery":
			err = c.runQuery(call)
		}
		if err != nil {
			return fmt.Errorf("billing: %s: %w", method, err)
		}
	}
	return nil
}

func (c *Count) commit(call delayproxy.Call) error {
	msgs, err := messages(call.Request)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		var req firestorepb.CommitRequest
		if err := proto.Unmarshal(m, &req); err != nil {
			return err
		}
		for _, w := range req.GetWrites() {
			switch op := w.GetOperation().(type) {
			case *firestorepb.Write_Delete:
				c.on(op.Delete, Ops{Deletes: 1})
			case *firestorepb.Write_Update:
				c.on(op.Update.GetName(), Ops{Writes: 1})
				if _, ok := op.Update.GetFields()["expireAt"]; ok && !c.ttl[op.Update.GetName()] {
					c.ttl[op.Update.GetName()] = true
					c.on(op.Update.GetName(), Ops{TTLDeletes: 1})
				}
			case *firestorepb.Write_Transform:
				c.on(op.Transform.GetDocument(), Ops{Writes: 1})
			}
		}
	}
	return nil
}

func (c *Count) batchGet(call delayproxy.Call) error {
	msgs, err := messages(call.Answer)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		var resp firestorepb.BatchGetDocumentsResponse
		if err := proto.Unmarshal(m, &resp); err != nil {
			return err
		}
		// A document asked for is billed whether it exists or not.
		switch r := resp.GetResult().(type) {
		case *firestorepb.BatchGetDocumentsResponse_Found:
			c.on(r.Found.GetName(), Ops{Reads: 1})
		case *firestorepb.BatchGetDocumentsResponse_Missing:
			c.on(r.Missing, Ops{Reads: 1})
		}
	}
	return nil
}

func (c *Count) runQuery(call delayproxy.Call) error {
	msgs, err := messages(call.Answer)
	if err != nil {
		return err
	}
	var req firestorepb.RunQueryRequest
	if reqs, err := messages(call.Request); err == nil && len(reqs) > 0 {
		_ = proto.Unmarshal(reqs[0], &req)
	}
	n := 0
	for _, m := range msgs {
		var resp firestorepb.RunQueryResponse
		if err := proto.Unmarshal(m, &resp); err != nil {
			return err
		}
		if d := resp.GetDocument(); d != nil {
			c.on(d.GetName(), Ops{Reads: 1})
			n++
		}
	}
	if n == 0 {
		// A query that returns nothing is billed one read.
		col := "?"
		if from := req.GetStructuredQuery().GetFrom(); len(from) > 0 {
			col = from[0].GetCollectionId()
		}
		c.on("x/documents/"+col+"/none", Ops{Reads: 1})
	}
	return nil
}

// messages splits gRPC's length-prefixed messages (a compressed flag byte,
// a 4-byte big-endian length, the message).
func messages(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 5 {
			return nil, errors.New("truncated gRPC message")
		}
		if b[0] != 0 {
			return nil, errors.New("compressed gRPC message")
		}
		n := binary.BigEndian.Uint32(b[1:5])
		if uint32(len(b)-5) < n {
			return nil, errors.New("truncated gRPC message")
		}
		out = append(out, b[5:5+n])
		b = b[5+n:]
	}
	return out, nil
}

// Collections are the collection ids counted, sorted.
func (c *Count) Collections() []string {
	var out []string
	for k := range c.ByCollection {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
