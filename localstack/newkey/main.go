// Command newkey prints a new random API key (jw_..., shared/auth), for
// API_ADMIN_KEY, which the api stores as an admin key at start:
//
//	export API_ADMIN_KEY=$(go run ./localstack/newkey)
//	API_AUTH=keys make run
//	curl -H "Authorization: Bearer $API_ADMIN_KEY" localhost:8080/api/keys
//
// Keep the key secret: it is an admin's. In AWS the stage's first admin
// key is made at deploy into Secrets Manager (make admin-key prints it);
// newkey's output can replace it there (rotation, docs/security.md).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/jobweaver/jobweaver/shared/auth"
)

func main() { os.Exit(run(os.Stdout, os.Stderr)) }

func run(stdout, stderr io.Writer) int {
	key, err := auth.Generate()
	if err != nil {
		fmt.Fprintln(stderr, "newkey:", err)
		return 1
	}
	fmt.Fprintln(stdout, key)
	return 0
}
