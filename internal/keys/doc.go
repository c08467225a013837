// Package keys manages tarsctl's key material: generating AES-256 and RSA
// keys, sealing and opening single files in the at-rest format of
// internal/crypto, reporting key age against the rotation policy, and
// rotating the AES key of a data directory.
//
// It never prints and never puts key material in an error. Key files are
// written 0600 through internal/atomicfile and never replaced unless the
// caller asks.
//
// # AES rotation
//
// [Rotate] moves every file under a data directory that is sealed with the
// old key to the new key, in the order Vault, sops and Kubernetes use:
//
//   - expand: the keyring holds both keys, so every file opens whatever
//     key sealed it;
//   - switch: the new key seals every new write;
//   - migrate: each file still sealed with the old key is re-encrypted to a
//     temporary file in its directory, fsynced, and renamed over the
//     original, by a bounded pool of workers;
//   - verify: every encrypted file is read to the end with the new key
//     alone;
//   - contract: only after verify, and only when asked, the old key file is
//     overwritten and removed.
//
// Every phase is recorded in a journal, [JournalName] in the data
// directory. The per-file state needs no journal: a file's header names the
// key that sealed it, so a run killed at any instant (SIGKILL included) is
// finished by running it again — files already under the new key are left
// alone, files under the old key are rewritten, and temporary files of the
// killed run are removed. No file is ever encrypted twice or lost, because
// the original is only replaced by a rename of a complete, synced copy.
//
// Before anything is modified the whole directory is planned: a file sealed
// with a key that is neither the old nor the new one, a damaged header, or
// an old key that seals nothing while new-key files are missing is an
// error, and nothing is touched. Files that are not in the encrypted format
// (a SQLite database, logs) are counted and left alone.
package keys
