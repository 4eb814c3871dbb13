package deploy

import (
	"os/exec"
	"testing"
)

// TestCfnLint runs cfn-lint on the template as CI does; any error or warning fails. A
// machine without cfn-lint fails too: CI must lint the template.
func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatal("cfn-lint is not installed; install it with `pip install cfn-lint` (or `pipx install cfn-lint`), then run the tests again")
	}
	out, err := exec.Command(bin, "--format", "parseable", "--", templatePath).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint %s: %v\n%s", templatePath, err, out)
	}
}
