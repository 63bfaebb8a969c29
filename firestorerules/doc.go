// Package firestorerules holds the tests of the repository's Firestore
// security rules (../firestore.rules) and indexes (../firestore.indexes.json).
//
// It has no code of its own: the rules run in Firestore (and in the
// emulator), not in Go. rules_test.go loads firestore.rules into the Firestore
// emulator, seeds data as the Admin SDK would ("Bearer owner", which the
// emulator lets past the rules) and then reads and writes every collection
// through the emulator's REST API as the appointment's doctor, its client,
// a guest (a uid in its guestIds), another signed-in user and no user, with
// the unsigned ID tokens the emulator accepts (as
// @firebase/rules-unit-testing makes them), asserting every allowance and
// every PERMISSION_DENIED; the audit trail (auditLog) is among the
// collections, denied to all of them. indexes_test.go checks the
// index file's entries and, with firebase-tools from node_modules, its shape.
package firestorerules
