package validate

import "regexp"

// tenantIDPattern is the form of a tenant id (hookd.tenants.id).
var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// TenantID checks a tenant id given as field: 1 to 128 of A-Z a-z 0-9 .
// _ : -, and neither "." nor "..", which in a URL path are steps cleaned
// away (/v1/tenants/.. could never reach the tenant). One check for every
// package that takes a tenant id, so that no tenant can be named in one
// place and not in another.
func TenantID(field, id string) error {
	if !tenantIDPattern.MatchString(id) {
		return Errorf(field, "%q is not a tenant id (1 to 128 of A-Z a-z 0-9 . _ : -, such as cus_42)", id)
	}
	if id == "." || id == ".." {
		return Errorf(field, "%q is not a tenant id: it is a step in a URL path", id)
	}
	return nil
}
