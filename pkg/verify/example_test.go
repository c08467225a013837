package verify_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/tars-ops/tarsctl/pkg/verify"
)

// Verify a release's provenance against the artifact and the expected
// builder, offline.
func ExampleProvenance() {
	pub, err := verify.LoadPublicKey("../../testdata/keys/rsa_public.pem")
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := os.ReadFile("../../testdata/provenance/vectors/good-rsa.vector")
	if err != nil {
		fmt.Println(err)
		return
	}
	envelope := data[len(data)-len(body(data)):]
	res, err := verify.Provenance(envelope, pub,
		verify.WithArtifactFile("../../testdata/provenance/artifact.txt"),
		verify.WithBuilderID("https://github.com/tars-ops/tarsctl/.github/workflows/release.yml@refs/tags/v1.0.2"),
		verify.WithSourceURI("github.com/tars-ops/tarsctl"),
	)
	switch {
	case errors.Is(err, verify.ErrVerificationFailed):
		fmt.Println("does not verify:", err)
	case err != nil:
		fmt.Println("cannot check:", err)
	default:
		fmt.Println("verified", res.Matched[0].Name, "built by", res.BuilderID)
	}
	// Output: verified artifact.txt built by https://github.com/tars-ops/tarsctl/.github/workflows/release.yml@refs/tags/v1.0.2
}

// Verify a detached signature, FILE.sig next to FILE.
func ExampleFile() {
	pub, err := verify.LoadPublicKey("../../testdata/keys/rsa_public.pem")
	if err != nil {
		fmt.Println(err)
		return
	}
	err = verify.File(pub, "../../testdata/provenance/artifact.txt", "../../testdata/provenance/artifact.txt.sig")
	fmt.Println("signature valid:", err == nil)
	// Output: signature valid: true
}

// body returns what follows a vector's "---" line.
func body(data []byte) []byte {
	for i := 0; i+5 <= len(data); i++ {
		if string(data[i:i+5]) == "\n---\n" {
			return data[i+5:]
		}
	}
	return nil
}
