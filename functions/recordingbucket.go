package functions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/telemed/videocalls/bucket"
)

// The clinic's own recording bucket (RECORDING_BUCKET, docs/recordings.md):
// in a HIPAA workspace 100ms writes there with write-only access, so the
// links to those files are ours to sign, and keeping or deleting them is
// ours too.

// errBucketMisconfigured is wrapped by recordingBucket's failure: the
// bucket's client cannot be made (an unreadable key file).
var errBucketMisconfigured = errors.New("recording bucket client")

// recordingBucket is the instance's client of RECORDING_BUCKET, made on
// first use. GOOGLE_APPLICATION_CREDENTIALS naming a service-account key
// (locally, tests) signs links with that key; deployed there is none, and
// the storage client signs as the function's service account through IAM
// signBlob.
func (a *app) recordingBucket() (*bucket.Bucket, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bkt == nil {
		var key *bucket.Key
		if a.cfg.keyFile != "" {
			k, err := bucket.LoadKey(a.cfg.keyFile)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", errBucketMisconfigured, envCredentials, err)
			}
			key = k
		}
		// Background: the client outlives the request that made it.
		b, err := bucket.Open(context.Background(), a.cfg.bucket, key)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBucketMisconfigured, err)
		}
		a.bkt = b
	}
	return a.bkt, nil
}

// bucketLink answers a link to object in the clinic's bucket, signed here
// and valid for RECORDING_LINK_TTL; 100ms is not asked. The audit entry
// names the object (bucket/path), never the link.
func (a *app) bucketLink(o opened, object string) (any, error) {
	b, err := a.recordingBucket()
	if err != nil {
		return nil, err
	}
	o.audit.detail("object", b.Path(object))
	link, expires, err := b.Sign(object, a.cfg.linkTTL, a.now())
	if err != nil {
		return nil, err
	}
	return map[string]any{"url": link, "expiresAt": expires.UTC().Format(time.RFC3339)}, nil
}
