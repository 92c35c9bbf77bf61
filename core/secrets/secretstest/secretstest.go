// Package secretstest gives tests one shared secrets key, so that a test
// and the hookd processes it starts seal and open with the same key. It
// is a normal package so that every test package can import it; nothing
// in hookd's binary does. Never use its key outside tests.
package secretstest

import "github.com/hookd/hookd/core/secrets"

// Key is the tests' secrets key (32 bytes in base64), for secrets.key or
// HOOKD_SECRETS_KEY.
const Key = "lrZIEd0qXhaeO9MrP6XzZ3c04+tQR1E7cyWugcF7fio="

// Install makes Key the process keyring, as a hookd process configured
// with it does.
func Install() {
	kr, err := secrets.NewKeyring(Key)
	if err != nil {
		panic(err)
	}
	secrets.Install(kr)
}
