// Package videocalls is the root of the deployable source: the Cloud
// Functions Go buildpack builds the package at the module root, and this
// import registers hmsToken and hmssWebhook with the functions framework.
package videocalls

import _ "github.com/telemed/videocalls/functions"
