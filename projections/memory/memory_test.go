package memory_test

import (
	"testing"

	"buildledger/projections"
	"buildledger/projections/memory"
	"buildledger/projections/projectionstest"
)

func TestConformance(t *testing.T) {
	projectionstest.Run(t, func(t *testing.T) projections.Store { return memory.New() })
}
